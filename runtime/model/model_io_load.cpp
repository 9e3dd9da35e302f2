// Reading model files: load_model and read_model_info (the checks are listed in
// model_io.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "recflow/model/model_io.hpp"
#include "recflow/model/model_io_detail.hpp"

namespace recflow {

using namespace io_detail;

namespace {

/// What a file holds: the parts are filled only when the parameters are kept.
struct file_contents {
  factor_model::parts parts;
  model_info info;
};

/// Closes a file descriptor on every way out.
struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string hex64(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::optional<std::string> parse_metadata(std::string_view text, model_metadata& out) {
  std::unordered_set<std::string_view> keys;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos)
      return std::string("the metadata does not end with a newline");
    auto line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return std::string("a metadata line is not key=value");
    if (!keys.insert(line.substr(0, eq)).second)
      return "metadata key '" + std::string(line.substr(0, eq)) + "' appears twice";
    out.entries.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  return std::nullopt;
}

/// Dense ids into a map, or the first duplicate.
std::optional<std::int64_t> fill_ids(const std::vector<std::int64_t>& ids, id_map& out) {
  out.reserve(ids.size());
  for (auto id : ids) {
    auto before = out.size();
    if (out.insert(id) != before)
      return id;
  }
  return std::nullopt;
}

/// Reads one model file front to back, checking as it goes (the order of checks is in
/// model_io.hpp). Keeps the parameters only when asked, but reads and hashes every byte
/// either way, so that read_model_info verifies the checksum too.
class model_reader {
 public:
  model_reader(const std::string& path, bool keep) : path_(path), keep_(keep) {}

  result<file_contents> run() {
    for (auto step : {&model_reader::open_file, &model_reader::read_header})
      if (auto r = (this->*step)(); !r)
        return r.err();
    while (in_.offset() < body_end_)
      if (auto r = read_section(); !r)
        return r.err();
    if (auto r = finish(); !r)
      return r.err();
    return std::move(out_);
  }

 private:
  error corrupt(const std::string& what) const { return {errc::corrupt, path_ + ": " + what}; }
  error io(const char* doing, int e) const {
    return {errc::io,
            "cannot " + std::string(doing) + " model file " + path_ + ": " + os_reason(e)};
  }
  error read_failed(int e) const {
    return e == ENODATA ? corrupt("truncated (the file shrank while it was read)") : io("read", e);
  }

  result<void> open_file() {
    fd_.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_.fd < 0)
      return io("open", errno);
    struct stat st {};
    if (::fstat(fd_.fd, &st) != 0)
      return io("stat", errno);
    if (!S_ISREG(st.st_mode))
      return error{errc::io, "cannot read model file " + path_ + ": not a regular file"};
    size_ = static_cast<std::uint64_t>(st.st_size);
    in_ = file_reader(fd_.fd);
    return {};
  }

  /// Magic, version, endianness and the declared size, before anything else.
  result<void> read_header() {
    std::array<std::byte, header_size> h{};
    auto got = static_cast<std::size_t>(std::min<std::uint64_t>(size_, header_size));
    if (int e = in_.read(h.data(), got))
      return read_failed(e);
    if (got == 0 || std::memcmp(h.data(), magic.data(), std::min(got, magic.size())) != 0)
      return corrupt("not a recflow model (wrong magic bytes)");
    if (got < header_size)
      return corrupt("truncated: " + std::to_string(size_) + " bytes, shorter than the header");
    version_ = load<std::uint32_t>(h.data() + 8);
    if (version_ == 0)
      return corrupt("format version 0 is invalid");
    if (version_ > model_format_version)
      return error{errc::version, path_ + ": format version " + std::to_string(version_)
                                      + ", this build reads up to "
                                      + std::to_string(model_format_version)};
    if (auto marker = load<std::uint32_t>(h.data() + 12); marker != endian_marker)
      return corrupt("endianness marker is " + hex64(marker) + ", expected 0x01020304");
    auto declared = load<std::uint64_t>(h.data() + 24);
    if (declared > size_)
      return corrupt("truncated: the header says " + std::to_string(declared)
                     + " bytes, the file has " + std::to_string(size_));
    if (declared < size_ || size_ < header_size + trailer_size)
      return corrupt("the header says " + std::to_string(declared) + " bytes, the file has "
                     + std::to_string(size_));
    body_end_ = size_ - trailer_size;
    return {};
  }

  /// One section; its length is checked against the bytes left before anything is
  /// allocated for it.
  result<void> read_section() {
    const auto at = in_.offset();
    if (body_end_ - at < section_header_size)
      return corrupt("truncated section header at offset " + std::to_string(at));
    std::array<std::byte, section_header_size> sh{};
    if (int e = in_.read(sh.data(), sh.size()))
      return read_failed(e);
    std::memcpy(tag_.data(), sh.data(), tag_.size());
    const auto flags = load<std::uint32_t>(sh.data() + 4);
    len_ = load<std::uint64_t>(sh.data() + 8);
    const auto left = body_end_ - in_.offset();
    if (len_ > left)
      return corrupt("section " + tag_name(tag_) + " at offset " + std::to_string(at) + " claims "
                     + std::to_string(len_) + " bytes, but only " + std::to_string(left)
                     + " remain");
    if (seen_.empty() && tag_ != tag_parm)
      return corrupt("the first section is " + tag_name(tag_) + ", expected 'PARM'");
    if (std::find(seen_.begin(), seen_.end(), tag_) != seen_.end())
      return corrupt("section " + tag_name(tag_) + " appears twice");
    auto& p = out_.parts;
    result<void> r;
    if (tag_ == tag_parm) {
      r = read_parm();
    } else if (tag_ == tag_uids) {
      r = read_exactly(user_ids_, nu_);
    } else if (tag_ == tag_iids) {
      r = read_exactly(item_ids_, ni_);
    } else if (tag_ == tag_ubia) {
      r = read_exactly(p.user_bias, nu_);
    } else if (tag_ == tag_ibia) {
      r = read_exactly(p.item_bias, ni_);
    } else if (tag_ == tag_ucnt) {
      r = read_exactly(p.user_count, nu_);
    } else if (tag_ == tag_icnt) {
      r = read_exactly(p.item_count, ni_);
    } else if (tag_ == tag_uf32 || tag_ == tag_ufac) {
      r = read_factors(tag_ == tag_ufac, tag_ufac, tag_uf32, p.U, nu_);
    } else if (tag_ == tag_if32 || tag_ == tag_ifac) {
      r = read_factors(tag_ == tag_ifac, tag_ifac, tag_if32, p.P, ni_);
    } else if (tag_ == tag_ratd) {
      const auto head = 8 * (nu_ + 1);
      if (len_ < head || (len_ - head) % 4 != 0)
        return wrong_length(std::to_string(head) + " + 4 x items");
      r = read_array(p.rated.offsets, nu_ + 1);
      if (r)
        r = read_array(p.rated.items, (len_ - head) / 4);
    } else if (tag_ == tag_meta) {
      meta_text_.resize(len_);
      if (int e = in_.read(meta_text_.data(), len_))
        return read_failed(e);
    } else {
      // Unknown: skipped, unless the writer marked it required (reported once the
      // checksum shows that the tag is not just a damaged byte).
      if ((flags & flag_required) && unknown_required_.empty())
        unknown_required_ = tag_name(tag_);
      if (int e = in_.skip(len_))
        return read_failed(e);
      return {};
    }
    if (r)
      seen_.push_back(tag_);
    return r;
  }

  error wrong_length(const std::string& expected) const {
    return corrupt("section " + tag_name(tag_) + " has " + std::to_string(len_)
                   + " bytes, expected " + expected);
  }

  result<void> read_parm() {
    std::array<std::byte, parm_size> b{};
    if (len_ != parm_size)
      return wrong_length(std::to_string(parm_size));
    if (int e = in_.read(b.data(), b.size()))
      return read_failed(e);
    auto rank = load<std::uint32_t>(b.data());
    nu_ = load<std::uint64_t>(b.data() + 40);
    ni_ = load<std::uint64_t>(b.data() + 48);
    if (rank < 1 || rank > std::uint32_t(max_saved_rank))
      return corrupt("rank " + std::to_string(rank) + " is outside 1.."
                     + std::to_string(max_saved_rank));
    if (nu_ > max_ids || ni_ > max_ids)
      return corrupt("the header claims " + std::to_string(nu_) + " users and "
                     + std::to_string(ni_) + " items, more than an id map holds");
    auto& p = out_.parts;
    p.rank = static_cast<int>(rank);
    p.scale = {load<double>(b.data() + 8), load<double>(b.data() + 16)};
    p.mu = load<double>(b.data() + 24);
    p.mu_count = load<std::uint64_t>(b.data() + 32);
    return {};
  }

  /// `count` elements into `v` (skipped unless kept); the caller has checked that they
  /// fit in the section, hence in the file.
  template <class V>
  result<void> read_array(V& v, std::uint64_t count) {
    const auto bytes = count * sizeof(typename V::value_type);
    if (!keep_) {
      if (int e = in_.skip(bytes))
        return read_failed(e);
      return {};
    }
    v.resize(count);
    if (int e = in_.read(v.data(), bytes))
      return read_failed(e);
    return {};
  }

  /// A section that is an array of exactly `count` elements.
  template <class V>
  result<void> read_exactly(V& v, std::uint64_t count) {
    constexpr auto width = sizeof(typename V::value_type);
    if (len_ % width != 0 || len_ / width != count)
      return wrong_length(std::to_string(count) + " x " + std::to_string(width));
    return read_array(v, count);
  }

  /// One side's factors: f32 (version 2), or f64 (version 1) rounded to float; a file
  /// may hold one of the two sections, not both.
  result<void> read_factors(bool f64, const tag_t& old_tag, const tag_t& new_tag,
                            std::vector<float>& out, std::uint64_t entities) {
    const auto& other = f64 ? new_tag : old_tag;
    if (std::find(seen_.begin(), seen_.end(), other) != seen_.end())
      return corrupt("sections " + tag_name(old_tag) + " and " + tag_name(new_tag)
                     + " both hold the same factors");
    const auto count = entities * std::uint64_t(out_.parts.rank);
    if (!f64)
      return read_exactly(out, count);
    std::vector<double> wide;
    auto r = read_exactly(wide, count);
    if (r && keep_) {
      out.resize(wide.size());
      for (std::size_t k = 0; k < wide.size(); ++k)
        out[k] = static_cast<float>(wide[k]);
    }
    return r;
  }

  /// The checksum, then what the sections mean; nothing is trusted before the checksum.
  result<void> finish() {
    std::array<std::byte, trailer_size> t{};
    if (int e = in_.read(t.data(), t.size(), false))
      return read_failed(e);
    if (auto stored = load<std::uint64_t>(t.data()); stored != in_.digest())
      return corrupt("checksum mismatch (stored " + hex64(stored) + ", computed "
                     + hex64(in_.digest()) + ")");
    if (!unknown_required_.empty())
      return error{errc::version, path_ + ": needs section " + unknown_required_
                                      + ", which this build (format version "
                                      + std::to_string(model_format_version)
                                      + ") does not know"};
    auto seen = [&](const tag_t& tag) {
      return std::find(seen_.begin(), seen_.end(), tag) != seen_.end();
    };
    for (const auto& tag : {tag_parm, tag_uids, tag_iids, tag_ubia, tag_ibia, tag_ucnt, tag_icnt})
      if (!seen(tag))
        return corrupt("missing section " + tag_name(tag));
    for (const auto& [tag, old_tag] : {std::pair{tag_uf32, tag_ufac}, std::pair{tag_if32, tag_ifac}})
      if (!seen(tag) && !seen(old_tag))
        return corrupt("missing section " + tag_name(tag));
    auto& p = out_.parts;
    auto& info = out_.info;
    if (auto problem = parse_metadata(meta_text_, info.metadata))
      return corrupt(*problem);
    info.format_version = version_;
    info.rank = p.rank;
    info.scale = p.scale;
    info.mu = p.mu;
    info.mu_count = p.mu_count;
    info.n_users = nu_;
    info.n_items = ni_;
    info.has_rated_index = std::find(seen_.begin(), seen_.end(), tag_ratd) != seen_.end();
    info.file_size = size_;
    if (!keep_)
      return {};
    if (auto dup = fill_ids(user_ids_, p.users))
      return corrupt("duplicate user id " + std::to_string(*dup));
    if (auto dup = fill_ids(item_ids_, p.items))
      return corrupt("duplicate item id " + std::to_string(*dup));
    param_view view{p.rank, p.scale, p.mu, p.user_bias, p.item_bias, p.U, p.P, p.rated, nu_, ni_};
    if (auto problem = find_problem(view))
      return corrupt(*problem);
    return {};
  }

  std::string path_;
  bool keep_;
  fd_guard fd_;
  std::uint64_t size_ = 0, body_end_ = 0;
  file_reader in_{-1};
  std::uint32_t version_ = 0;
  std::uint64_t nu_ = 0, ni_ = 0;
  tag_t tag_{};           // the section being read
  std::uint64_t len_ = 0;  // its length
  std::vector<tag_t> seen_;
  std::vector<std::int64_t> user_ids_, item_ids_;
  std::string meta_text_, unknown_required_;
  file_contents out_;
};

}  // namespace

result<factor_model> load_model(const std::string& path) {
  model_metadata ignored;
  return load_model(path, ignored);
}

result<factor_model> load_model(const std::string& path, model_metadata& metadata) {
  auto got = model_reader(path, true).run();
  if (!got)
    return got.err();
  auto meta = std::move(got->info.metadata);
  auto m = factor_model::from_parts(std::move(got->parts));
  if (!m)
    return error{m.err().code, path + ": " + m.err().message};
  metadata = std::move(meta);
  return m;
}

result<model_info> read_model_info(const std::string& path) {
  auto got = model_reader(path, false).run();
  if (!got)
    return got.err();
  return std::move(got->info);
}

std::uint64_t xxhash64(std::span<const std::byte> data, std::uint64_t seed) noexcept {
  xxh64 h(seed);
  h.update(data.data(), data.size());
  return h.digest();
}

}  // namespace recflow
