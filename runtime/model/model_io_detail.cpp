#include "recflow/model/model_io_detail.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <system_error>

#include "recflow/model/model_io.hpp"

namespace recflow::io_detail {

std::string os_reason(int e) { return std::generic_category().message(e); }

std::string tag_name(const tag_t& t) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s = "'";
  for (char c : t) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      s += c;
    } else {
      s += "\\x";
      s += hex[b >> 4];
      s += hex[b & 15];
    }
  }
  return s + "'";
}

// ---- xxHash64 -------------------------------------------------------------------------

namespace {

constexpr std::uint64_t xp1 = 0x9E3779B185EBCA87ull, xp2 = 0xC2B2AE3D27D4EB4Full,
                        xp3 = 0x165667B19E3779F9ull, xp4 = 0x85EBCA77C2B2AE63ull,
                        xp5 = 0x27D4EB2F165667C5ull;

std::uint64_t read64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::uint64_t xround(std::uint64_t acc, std::uint64_t input) noexcept {
  return std::rotl(acc + input * xp2, 31) * xp1;
}

}  // namespace

xxh64::xxh64(std::uint64_t seed) noexcept
  : seed_(seed), v_{seed + xp1 + xp2, seed + xp2, seed, seed - xp1} {}

void xxh64::update(const void* data, std::size_t n) noexcept {
  if (n == 0)
    return;
  auto* p = static_cast<const unsigned char*>(data);
  total_ += n;
  if (buffered_ + n < 32) {
    std::memcpy(buf_.data() + buffered_, p, n);
    buffered_ += n;
    return;
  }
  if (buffered_ > 0) {
    auto fill = 32 - buffered_;
    std::memcpy(buf_.data() + buffered_, p, fill);
    stripes(buf_.data(), 32);
    p += fill;
    n -= fill;
    buffered_ = 0;
  }
  auto whole = n & ~std::size_t(31);
  stripes(p, whole);
  std::memcpy(buf_.data(), p + whole, n - whole);
  buffered_ = n - whole;
}

void xxh64::stripes(const unsigned char* p, std::size_t n) noexcept {
  auto a = v_[0], b = v_[1], c = v_[2], d = v_[3];
  for (std::size_t i = 0; i < n; i += 32) {
    a = xround(a, read64(p + i));
    b = xround(b, read64(p + i + 8));
    c = xround(c, read64(p + i + 16));
    d = xround(d, read64(p + i + 24));
  }
  v_ = {a, b, c, d};
}

std::uint64_t xxh64::digest() const noexcept {
  std::uint64_t h;
  if (total_ >= 32) {
    h = std::rotl(v_[0], 1) + std::rotl(v_[1], 7) + std::rotl(v_[2], 12) + std::rotl(v_[3], 18);
    for (auto v : v_)
      h = (h ^ xround(0, v)) * xp1 + xp4;
  } else {
    h = seed_ + xp5;
  }
  h += total_;
  const unsigned char* p = buf_.data();
  std::size_t n = buffered_;
  for (; n >= 8; p += 8, n -= 8)
    h = std::rotl(h ^ xround(0, read64(p)), 27) * xp1 + xp4;
  if (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    h = std::rotl(h ^ (std::uint64_t(w) * xp1), 23) * xp2 + xp3;
    p += 4;
    n -= 4;
  }
  for (; n > 0; ++p, --n)
    h = std::rotl(h ^ (std::uint64_t(*p) * xp5), 11) * xp1;
  h ^= h >> 33;
  h *= xp2;
  h ^= h >> 29;
  h *= xp3;
  return h ^ (h >> 32);
}

// ---- parameter invariants ------------------------------------------------------------

namespace {

/// Index of the first NaN or infinity in `xs`, or xs.size(). Tests exponent bits in
/// blocks so that the common all-finite case vectorises.
template <class T>
std::size_t first_non_finite(std::span<const T> xs) noexcept {
  using bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  constexpr bits exponent = sizeof(T) == 8 ? bits(0x7ff0000000000000ull) : bits(0x7f800000u);
  constexpr std::size_t block = 4096;
  for (std::size_t b = 0; b < xs.size(); b += block) {
    auto e = std::min(xs.size(), b + block);
    bool bad = false;
    for (std::size_t i = b; i < e; ++i)
      bad |= (std::bit_cast<bits>(xs[i]) & exponent) == exponent;
    if (bad)
      for (std::size_t i = b; i < e; ++i)
        if (!std::isfinite(xs[i]))
          return i;
  }
  return xs.size();
}

}  // namespace

std::optional<std::string> find_problem(const param_view& v) {
  if (v.rank < 1 || v.rank > max_saved_rank)
    return "rank " + std::to_string(v.rank) + " is outside 1.." + std::to_string(max_saved_rank);
  if (!std::isfinite(v.scale.min) || !std::isfinite(v.scale.max) || !(v.scale.min < v.scale.max))
    return std::string("the rating scale is empty or not finite");
  if (!std::isfinite(v.mu))
    return std::string("the global mean is not finite");
  auto check = [](const char* what, auto xs, std::size_t per_entity) {
    std::optional<std::string> problem;
    if (auto i = first_non_finite(xs); i != xs.size())
      problem = "non-finite value in the " + std::string(what) + " at index "
                + std::to_string(i / per_entity);
    return problem;
  };
  for (auto problem : {check("bias of user", v.user_bias, 1), check("bias of item", v.item_bias, 1),
                       check("factors of user", v.U, std::size_t(v.rank)),
                       check("factors of item", v.P, std::size_t(v.rank))})
    if (problem)
      return problem;
  const auto& r = v.rated;
  if (r.empty())
    return std::nullopt;
  if (r.offsets.size() != v.n_users + 1 || r.offsets.front() != 0
      || r.offsets.back() != r.items.size())
    return std::string("the rated-items offsets disagree with the users or the items");
  // Monotone offsets from 0 to items.size() first: then every row lies inside `items`.
  for (std::size_t u = 0; u < v.n_users; ++u)
    if (r.offsets[u] > r.offsets[u + 1])
      return "the rated-items offsets decrease at user index " + std::to_string(u);
  for (std::size_t u = 0; u < v.n_users; ++u) {
    for (auto k = r.offsets[u]; k < r.offsets[u + 1]; ++k) {
      if (r.items[k] >= v.n_items)
        return "the rated-items index names item " + std::to_string(r.items[k]) + " of "
               + std::to_string(v.n_items);
      if (k > r.offsets[u] && r.items[k] < r.items[k - 1])
        return "the rated items of user index " + std::to_string(u) + " are not sorted";
    }
  }
  return std::nullopt;
}

// ---- file writing and reading --------------------------------------------------------

namespace {

/// Longest single read or write: Linux moves at most about 2 GiB per call.
constexpr std::size_t max_io = std::size_t(1) << 30;

/// Writes all `n` bytes, retrying on EINTR and short writes; errno of a failure, or 0.
int write_all(int fd, const std::byte* p, std::size_t n) noexcept {
  for (std::size_t done = 0; done < n;) {
    auto w = ::write(fd, p + done, std::min(n - done, max_io));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? errno : EIO;
    done += static_cast<std::size_t>(w);
  }
  return 0;
}

}  // namespace

void file_writer::put_unhashed(std::span<const std::byte> s) {
  if (err_ != 0 || s.empty())
    return;
  if (buf_.size() + s.size() > capacity) {
    flush();
    if (s.size() >= capacity) {
      if (err_ == 0)
        err_ = write_all(fd_, s.data(), s.size());
      return;
    }
  }
  buf_.insert(buf_.end(), s.begin(), s.end());
}

void file_writer::flush() {
  if (err_ == 0 && !buf_.empty())
    err_ = write_all(fd_, buf_.data(), buf_.size());
  buf_.clear();
}

int file_writer::finish() {
  flush();
  return err_;
}

int file_reader::read(void* dest, std::size_t n, bool hash) {
  auto* p = static_cast<std::byte*>(dest);
  for (std::size_t done = 0; done < n;) {
    auto r = ::read(fd_, p + done, std::min(n - done, max_io));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? errno : ENODATA;
    done += static_cast<std::size_t>(r);
  }
  pos_ += n;
  if (hash)
    hash_.update(dest, n);
  return 0;
}

int file_reader::skip(std::uint64_t n) {
  std::vector<std::byte> scratch(std::min<std::uint64_t>(n, std::uint64_t(1) << 16));
  while (n > 0) {
    auto step = std::min<std::uint64_t>(n, scratch.size());
    if (int e = read(scratch.data(), step))
      return e;
    n -= step;
  }
  return 0;
}

}  // namespace recflow::io_detail
