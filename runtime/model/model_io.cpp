#include "recflow/model/model_io.hpp"
#include "recflow/model/temp_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <type_traits>
#include <unordered_set>

#include "recflow/model/model_io_detail.hpp"

namespace recflow {

static_assert(std::endian::native == std::endian::little,
              "model files are little-endian and are read with memcpy: little-endian hosts only");

using namespace io_detail;

namespace {

/// A section to write: a tag, flags and a payload in one or two pieces.
struct section {
  tag_t tag;
  std::uint32_t flags = flag_required;
  std::span<const std::byte> first, second = {};
  std::uint64_t size() const noexcept { return first.size() + second.size(); }
};

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

/// Removes the temporary file unless the save reached the rename.
struct temp_file {
  std::string path;
  int fd = -1;
  bool keep = false;
  int close() {
    int rc = ::close(fd);
    fd = -1;
    return rc;
  }
  ~temp_file() {
    if (fd >= 0)
      ::close(fd);
    if (!keep)
      ::unlink(path.c_str());
  }
};

std::string encode_metadata(const model_metadata& meta) {
  std::string text;
  for (const auto& [key, value] : meta.entries)
    text.append(key).append(1, '=').append(value).append(1, '\n');
  return text;
}

std::optional<std::string> metadata_problem(const model_metadata& meta) {
  std::unordered_set<std::string_view> keys;
  for (const auto& [key, value] : meta.entries) {
    if (key.empty() || key.find_first_of("=\n") != std::string::npos)
      return "metadata key '" + key + "' is empty or holds '=' or a newline";
    if (value.find('\n') != std::string::npos)
      return "metadata value of '" + key + "' holds a newline";
    if (!keys.insert(key).second)
      return "metadata key '" + key + "' appears twice";
  }
  return std::nullopt;
}

}  // namespace

void model_metadata::set(std::string_view key, std::string_view value) {
  for (auto& [k, v] : entries)
    if (k == key) {
      v = value;
      return;
    }
  entries.emplace_back(key, value);
}

std::optional<std::string> model_metadata::get(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k == key)
      return v;
  return std::nullopt;
}

result<void> save_model(const factor_model& m, const std::string& path) {
  return save_model(m, path, model_metadata{});
}

result<void> save_model(const factor_model& m, const std::string& path,
                        const model_metadata& metadata) {
  if (auto bad = metadata_problem(metadata))
    return error{errc::invalid_argument, "saving model to " + path + ": " + *bad};
  const auto& rated = m.rated();
  const std::size_t nu = m.n_users(), ni = m.n_items(), k = std::size_t(std::max(m.rank(), 0));
  if (m.user_bias().size() != nu || m.user_count().size() != nu || m.U().data().size() != nu * k
      || m.item_bias().size() != ni || m.item_count().size() != ni
      || m.P().data().size() != ni * k)
    return error{errc::invalid_value, "refusing to save model to " + path
                                          + ": its tables disagree in size with its ids"};
  param_view view{m.rank(),      m.scale(),    m.mu(),       m.user_bias(), m.item_bias(),
                  m.U().data(),  m.P().data(), rated,        nu,            ni};
  if (auto bad = find_problem(view))
    return error{errc::invalid_value, "refusing to save model to " + path + ": " + *bad};

  std::array<std::byte, parm_size> parm{};
  store<std::uint32_t>(parm.data(), static_cast<std::uint32_t>(m.rank()));
  store<double>(parm.data() + 8, m.scale().min);
  store<double>(parm.data() + 16, m.scale().max);
  store<double>(parm.data() + 24, m.mu());
  store<std::uint64_t>(parm.data() + 32, m.mu_count());
  store<std::uint64_t>(parm.data() + 40, nu);
  store<std::uint64_t>(parm.data() + 48, ni);
  std::string meta_text = encode_metadata(metadata);

  std::vector<section> sections{
      {tag_parm, flag_required, parm},
      {tag_uids, flag_required, bytes_of(m.users().externals())},
      {tag_iids, flag_required, bytes_of(m.items().externals())},
      {tag_ubia, flag_required, bytes_of(m.user_bias())},
      {tag_ibia, flag_required, bytes_of(m.item_bias())},
      {tag_ucnt, flag_required, bytes_of(m.user_count())},
      {tag_icnt, flag_required, bytes_of(m.item_count())},
      {tag_uf32, flag_required, bytes_of(m.U().data())},
      {tag_if32, flag_required, bytes_of(m.P().data())},
  };
  if (!rated.empty())
    sections.push_back({tag_ratd, flag_required, bytes_of(rated.offsets), bytes_of(rated.items)});
  if (!meta_text.empty())
    sections.push_back({tag_meta, 0, std::as_bytes(std::span(meta_text))});

  std::uint64_t total = header_size + trailer_size;
  for (const auto& s : sections)
    total += section_header_size + s.size();
  std::array<std::byte, header_size> header{};
  std::memcpy(header.data(), magic.data(), magic.size());
  store<std::uint32_t>(header.data() + 8, model_format_version);
  store<std::uint32_t>(header.data() + 12, endian_marker);
  store<std::uint64_t>(header.data() + 24, total);

  // A fresh name no one can guess, created only if nothing is there (not followed if a
  // link is): another user of the folder cannot redirect or pre-empt the write.
  temp_file tmp{unpredictable_temp_name(path)};
  auto fail = [&](const char* doing, int e) {
    return error{errc::io, "saving model to " + path + ": cannot " + doing + " temporary file "
                               + tmp.path + ": " + os_reason(e)};
  };
  tmp.fd = create_new_file(tmp.path);
  for (int attempt = 0; tmp.fd < 0 && errno == EEXIST && attempt < 8; ++attempt) {
    tmp.path = unpredictable_temp_name(path);
    tmp.fd = create_new_file(tmp.path);
  }
  if (tmp.fd < 0) {
    int e = errno;
    tmp.keep = true;  // not ours: nothing was created
    return fail("create", e);
  }
  file_writer out(tmp.fd);
  out.put(header);
  for (const auto& s : sections) {
    std::array<std::byte, section_header_size> sh{};
    std::memcpy(sh.data(), s.tag.data(), s.tag.size());
    store<std::uint32_t>(sh.data() + 4, s.flags);
    store<std::uint64_t>(sh.data() + 8, s.size());
    out.put(sh);
    out.put(s.first);
    out.put(s.second);
  }
  std::array<std::byte, trailer_size> trailer{};
  store<std::uint64_t>(trailer.data(), out.digest());
  out.put_unhashed(trailer);
  if (int e = out.finish())
    return fail("write", e);
  if (::fsync(tmp.fd) != 0)
    return fail("fsync", errno);
  if (tmp.close() != 0)
    return fail("close", errno);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    return fail("rename", errno);
  tmp.keep = true;

  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty())
    dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = dfd < 0 ? -1 : ::fsync(dfd);
  int e = errno;
  if (dfd >= 0)
    ::close(dfd);
  if (rc != 0 && e != EINVAL)  // EINVAL: the file system cannot sync directories
    return error{errc::io, "saved model to " + path + ", but cannot sync its directory "
                               + dir.string() + " (the rename may not survive a crash): "
                               + os_reason(e)};
  return {};
}

}  // namespace recflow
