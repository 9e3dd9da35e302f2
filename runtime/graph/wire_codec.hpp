/// The byte-level reader and writer behind the wire formats (graph/wire.hpp,
/// graph/als_wire.hpp): the common header, bounds-checked reads, overflow-checked sizes.
/// Internal to runtime/graph.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <cmath>
#include <span>
#include <string>

#include "recflow/graph/wire.hpp"

namespace recflow::wire::detail {

/// Appends plain values to a blob whose size is known up front.
class writer {
 public:
  writer(kind k, std::size_t payload) {
    buf_.resize(header_bytes + payload);
    put(magic);
    put(format_version);
    put(static_cast<std::uint16_t>(k));
    put(static_cast<std::uint64_t>(payload));
  }
  template <class T>
  void put(T v) noexcept {
    std::memcpy(buf_.data() + at_, &v, sizeof(T));
    at_ += sizeof(T);
  }
  void put_bytes(const void* p, std::size_t n) noexcept {
    if (n > 0)
      std::memcpy(buf_.data() + at_, p, n);
    at_ += n;
  }
  bytes done() && { return std::move(buf_); }

 private:
  bytes buf_;
  std::size_t at_ = 0;
};

/// Whether every value is a number, neither NaN nor infinite.
template <class T>
bool all_finite(std::span<const T> v) noexcept {
  for (auto x : v)
    if (!std::isfinite(x))
      return false;
  return true;
}

inline error bad(kind k, const std::string& what) {
  return error{errc::corrupt, std::string("malformed ") + to_string(k) + " frame: " + what};
}

/// Reads plain values from a blob; every read is bounds-checked by `need` first.
class reader {
 public:
  explicit reader(std::span<const char> b) : b_(b) {}
  bool need(std::size_t n) const noexcept { return n <= b_.size() - at_; }
  std::size_t left() const noexcept { return b_.size() - at_; }
  template <class T>
  T get() noexcept {
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  void get_bytes(void* p, std::size_t n) noexcept {
    if (n > 0)
      std::memcpy(p, b_.data() + at_, n);
    at_ += n;
  }

 private:
  std::span<const char> b_;
  std::size_t at_ = 0;
};

/// n * size without overflow; false when it would not fit.
inline bool checked_mul(std::uint64_t n, std::uint64_t size, std::uint64_t& out) noexcept {
  if (size != 0 && n > std::numeric_limits<std::uint64_t>::max() / size)
    return false;
  out = n * size;
  return true;
}

/// Checks the header, that the blob is exactly header + declared payload, and that the
/// payload holds at least its `fixed` leading bytes (else "malformed ... frame: " +
/// `truncated`); positions `r` at the payload.
inline result<void> open(reader& r, std::span<const char> blob, kind expected,
                         std::size_t fixed = 0, const char* truncated = "truncated") {
  if (!r.need(header_bytes))
    return bad(expected, "truncated header: " + std::to_string(blob.size()) + " of "
                           + std::to_string(header_bytes) + " bytes");
  auto m = r.get<std::uint32_t>();
  if (m != magic)
    return bad(expected, "bad magic (not a recflow frame, or a peer of the other byte order)");
  auto v = r.get<std::uint16_t>();
  if (v != format_version)
    return bad(expected, "format version " + std::to_string(v) + ", this build reads "
                           + std::to_string(format_version));
  auto k = r.get<std::uint16_t>();
  if (k != static_cast<std::uint16_t>(expected))
    return bad(expected, "kind " + std::to_string(k) + ", expected "
                           + std::to_string(static_cast<unsigned>(expected)));
  auto payload = r.get<std::uint64_t>();
  if (payload != r.left())
    return bad(expected, "header declares " + std::to_string(payload) + " payload bytes, "
                           + std::to_string(r.left()) + " follow");
  if (!r.need(fixed))
    return bad(expected, truncated);
  return {};
}

/// After the fixed part: the rest must be exactly `count` records of `size` bytes.
inline result<void> expect_records(const reader& r, kind k, std::uint64_t count, std::uint64_t size,
                            const char* what) {
  std::uint64_t n = 0;
  if (!checked_mul(count, size, n) || n != r.left())
    return bad(k, std::to_string(count) + " " + what + " need " + std::to_string(count) + " x "
                    + std::to_string(size) + " bytes, " + std::to_string(r.left()) + " follow");
  return {};
}

}  // namespace recflow::wire::detail
