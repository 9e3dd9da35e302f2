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

#include "model/model_io.hpp"
#include "model/model_io_detail.hpp"

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
  int fd;
  ~fd_guard() { ::close(fd); }
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

/// Reads and checks a model file (see the order of checks in model_io.hpp); keeps the
/// parameters only when `keep` is set, but reads and hashes every byte either way.
result<file_contents> read_file(const std::string& path, bool keep) {
  auto corrupt = [&](const std::string& what) { return error{errc::corrupt, path + ": " + what}; };
  auto io = [&](const char* doing, int e) {
    return error{errc::io, "cannot " + std::string(doing) + " model file " + path + ": "
                               + os_reason(e)};
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return io("open", errno);
  fd_guard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return io("stat", errno);
  if (!S_ISREG(st.st_mode))
    return error{errc::io, "cannot read model file " + path + ": not a regular file"};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  file_reader in(fd);
  auto read_failed = [&](int e) {
    return e == ENODATA ? corrupt("truncated (the file shrank while it was read)") : io("read", e);
  };

  // Header: magic, version, endianness and the declared size, before anything else.
  std::array<std::byte, header_size> h{};
  auto got = static_cast<std::size_t>(std::min<std::uint64_t>(size, header_size));
  if (int e = in.read(h.data(), got))
    return read_failed(e);
  if (got == 0 || std::memcmp(h.data(), magic.data(), std::min(got, magic.size())) != 0)
    return corrupt("not a recflow model (wrong magic bytes)");
  if (got < header_size)
    return corrupt("truncated: " + std::to_string(size) + " bytes, shorter than the header");
  auto version = load<std::uint32_t>(h.data() + 8);
  if (version == 0)
    return corrupt("format version 0 is invalid");
  if (version > model_format_version)
    return error{errc::version, path + ": format version " + std::to_string(version)
                                    + ", this build reads up to "
                                    + std::to_string(model_format_version)};
  if (auto marker = load<std::uint32_t>(h.data() + 12); marker != endian_marker)
    return corrupt("endianness marker is " + hex64(marker) + ", expected 0x01020304");
  auto declared = load<std::uint64_t>(h.data() + 24);
  if (declared > size)
    return corrupt("truncated: the header says " + std::to_string(declared)
                   + " bytes, the file has " + std::to_string(size));
  if (declared < size || size < header_size + trailer_size)
    return corrupt("the header says " + std::to_string(declared) + " bytes, the file has "
                   + std::to_string(size));

  // Sections: every length is checked against the bytes left before anything is allocated.
  const std::uint64_t body_end = size - trailer_size;
  file_contents out;
  auto& p = out.parts;
  std::uint64_t nu = 0, ni = 0, k = 0;
  std::vector<std::int64_t> user_ids, item_ids;
  std::vector<tag_t> seen;
  std::string meta_text, unknown_required;
  while (in.offset() < body_end) {
    const auto at = in.offset();
    if (body_end - at < section_header_size)
      return corrupt("truncated section header at offset " + std::to_string(at));
    std::array<std::byte, section_header_size> sh{};
    if (int e = in.read(sh.data(), sh.size()))
      return read_failed(e);
    tag_t tag;
    std::memcpy(tag.data(), sh.data(), tag.size());
    const auto flags = load<std::uint32_t>(sh.data() + 4);
    const auto len = load<std::uint64_t>(sh.data() + 8);
    const auto left = body_end - in.offset();
    const auto name = "section " + tag_name(tag);
    if (len > left)
      return corrupt(name + " at offset " + std::to_string(at) + " claims " + std::to_string(len)
                     + " bytes, but only " + std::to_string(left) + " remain");
    if (seen.empty() && tag != tag_parm)
      return corrupt("the first section is " + tag_name(tag) + ", expected 'PARM'");
    if (std::find(seen.begin(), seen.end(), tag) != seen.end())
      return corrupt(name + " appears twice");
    auto length_is = [&](std::uint64_t count, std::uint64_t width) {
      return len % width == 0 && len / width == count;
    };
    auto wrong_length = [&](const std::string& expected) {
      return corrupt(name + " has " + std::to_string(len) + " bytes, expected " + expected);
    };
    // Reads `count` elements into `v`; the caller has checked that they fit in `len`.
    auto read_array = [&](auto& v, std::uint64_t count) -> std::optional<error> {
      const auto bytes = count * sizeof(v[0]);
      if (!keep) {
        if (int e = in.skip(bytes))
          return read_failed(e);
        return std::nullopt;
      }
      v.resize(count);
      if (int e = in.read(v.data(), bytes))
        return read_failed(e);
      return std::nullopt;
    };
    // An array section of exactly `count` elements.
    auto read_section = [&](auto& v, std::uint64_t count) -> std::optional<error> {
      if (!length_is(count, sizeof(v[0])))
        return wrong_length(std::to_string(count) + " x " + std::to_string(sizeof(v[0])));
      return read_array(v, count);
    };
    std::optional<error> bad;
    if (tag == tag_parm) {
      std::array<std::byte, parm_size> b{};
      if (len != parm_size)
        return wrong_length(std::to_string(parm_size));
      if (int e = in.read(b.data(), b.size()))
        return read_failed(e);
      auto rank = load<std::uint32_t>(b.data());
      nu = load<std::uint64_t>(b.data() + 40);
      ni = load<std::uint64_t>(b.data() + 48);
      if (rank < 1 || rank > std::uint32_t(max_saved_rank))
        return corrupt("rank " + std::to_string(rank) + " is outside 1.."
                       + std::to_string(max_saved_rank));
      if (nu > max_ids || ni > max_ids)
        return corrupt("the header claims " + std::to_string(nu) + " users and "
                       + std::to_string(ni) + " items, more than an id map holds");
      k = rank;
      p.rank = static_cast<int>(rank);
      p.scale = {load<double>(b.data() + 8), load<double>(b.data() + 16)};
      p.mu = load<double>(b.data() + 24);
      p.mu_count = load<std::uint64_t>(b.data() + 32);
    } else if (tag == tag_uids) {
      bad = read_section(user_ids, nu);
    } else if (tag == tag_iids) {
      bad = read_section(item_ids, ni);
    } else if (tag == tag_ubia) {
      bad = read_section(p.user_bias, nu);
    } else if (tag == tag_ibia) {
      bad = read_section(p.item_bias, ni);
    } else if (tag == tag_ucnt) {
      bad = read_section(p.user_count, nu);
    } else if (tag == tag_icnt) {
      bad = read_section(p.item_count, ni);
    } else if (tag == tag_ufac) {
      bad = read_section(p.U, nu * k);
    } else if (tag == tag_ifac) {
      bad = read_section(p.P, ni * k);
    } else if (tag == tag_ratd) {
      const auto head = 8 * (nu + 1);
      if (len < head || (len - head) % 4 != 0)
        return wrong_length(std::to_string(head) + " + 4 x items");
      bad = read_array(p.rated.offsets, nu + 1);
      if (!bad)
        bad = read_array(p.rated.items, (len - head) / 4);
    } else if (tag == tag_meta) {
      meta_text.resize(len);
      if (int e = in.read(meta_text.data(), len))
        return read_failed(e);
    } else {
      // Unknown: skipped, unless the writer marked it required (reported once the
      // checksum shows that the tag is not just a damaged byte).
      if ((flags & flag_required) && unknown_required.empty())
        unknown_required = tag_name(tag);
      if (int e = in.skip(len))
        return read_failed(e);
      continue;
    }
    if (bad)
      return *bad;
    seen.push_back(tag);
  }

  // Trailer: nothing read above is trusted before the checksum matches.
  std::array<std::byte, trailer_size> t{};
  if (int e = in.read(t.data(), t.size(), false))
    return read_failed(e);
  if (auto stored = load<std::uint64_t>(t.data()); stored != in.digest())
    return corrupt("checksum mismatch (stored " + hex64(stored) + ", computed "
                   + hex64(in.digest()) + ")");
  if (!unknown_required.empty())
    return error{errc::version, path + ": needs section " + unknown_required
                                    + ", which this build (format version "
                                    + std::to_string(model_format_version) + ") does not know"};
  for (const auto& tag : {tag_parm, tag_uids, tag_iids, tag_ubia, tag_ibia, tag_ucnt, tag_icnt,
                          tag_ufac, tag_ifac})
    if (std::find(seen.begin(), seen.end(), tag) == seen.end())
      return corrupt("missing section " + tag_name(tag));
  auto& info = out.info;
  if (auto problem = parse_metadata(meta_text, info.metadata))
    return corrupt(*problem);
  info.format_version = version;
  info.rank = p.rank;
  info.scale = p.scale;
  info.mu = p.mu;
  info.mu_count = p.mu_count;
  info.n_users = nu;
  info.n_items = ni;
  info.has_rated_index = std::find(seen.begin(), seen.end(), tag_ratd) != seen.end();
  info.file_size = size;
  if (!keep)
    return out;

  if (auto dup = fill_ids(user_ids, p.users))
    return corrupt("duplicate user id " + std::to_string(*dup));
  if (auto dup = fill_ids(item_ids, p.items))
    return corrupt("duplicate item id " + std::to_string(*dup));
  param_view view{p.rank, p.scale, p.mu, p.user_bias, p.item_bias, p.U, p.P, p.rated, nu, ni};
  if (auto problem = find_problem(view))
    return corrupt(*problem);
  return out;
}

}  // namespace

result<factor_model> load_model(const std::string& path) {
  model_metadata ignored;
  return load_model(path, ignored);
}

result<factor_model> load_model(const std::string& path, model_metadata& metadata) {
  auto got = read_file(path, true);
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
  auto got = read_file(path, false);
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
