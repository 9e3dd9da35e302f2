// Whole-file ingest: map the file, resolve its layout, run the line parser once over it.
#include "recflow/data/ingest.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "recflow/data/line_parser.hpp"

namespace recflow {

std::optional<input_format> parse_input_format(std::string_view name) noexcept {
  if (name == "detect" || name == "auto") return input_format::detect;
  if (name == "ml100k") return input_format::ml100k;
  if (name == "ml-csv") return input_format::ml_csv;
  if (name == "ml-dat") return input_format::ml_dat;
  if (name == "delimited") return input_format::delimited;
  if (name == "events") return input_format::events;
  return std::nullopt;
}

const char* to_string(input_format f) noexcept {
  switch (f) {
    case input_format::detect: return "detect";
    case input_format::ml100k: return "ml100k";
    case input_format::ml_csv: return "ml-csv";
    case input_format::ml_dat: return "ml-dat";
    case input_format::delimited: return "delimited";
    case input_format::events: return "events";
  }
  return "unknown";
}

namespace {

error io_error(const std::string& path, const char* what, int err) {
  return error{errc::io, path + ": " + what + ": " + std::system_category().message(err)};
}

/// A read-only view of a whole file: mapped when it is a regular file, read otherwise.
class file_text {
 public:
  file_text() = default;
  file_text(const file_text&) = delete;
  file_text& operator=(const file_text&) = delete;
  ~file_text() {
    if (map_) ::munmap(map_, size_);
  }

  result<void> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "cannot open", errno);
    auto r = load(path, fd);
    ::close(fd);
    return r;
  }

  std::string_view text() const noexcept {
    return map_ ? std::string_view(static_cast<const char*>(map_), size_) : std::string_view(copy_);
  }

 private:
  result<void> load(const std::string& path, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error(path, "cannot stat", errno);
    if (S_ISDIR(st.st_mode)) return io_error(path, "cannot read", EISDIR);
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
      auto size = static_cast<std::size_t>(st.st_size);
      void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (m != MAP_FAILED) {
        map_ = m;
        size_ = size;
        return {};
      }
    }
    char buf[1 << 16];  // pipes, devices, or a failed mapping: plain reads
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n == 0) return {};
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error(path, "cannot read", errno);
      copy_.append(buf, static_cast<std::size_t>(n));
    }
  }

  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::string copy_;
};

/// Roughly how many lines `text` has, from three 256 KiB windows (exact when small).
std::size_t estimate_lines(std::string_view text) {
  constexpr std::size_t window = 256 * 1024;
  if (text.size() <= 3 * window)
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::size_t newlines = 0;
  for (std::size_t at : {std::size_t{0}, text.size() / 2, text.size() - window}) {
    auto w = text.substr(at, window);
    newlines += static_cast<std::size_t>(std::count(w.begin(), w.end(), '\n'));
  }
  if (newlines == 0) return 0;
  double bytes_per_line = 3.0 * window / static_cast<double>(newlines);
  return static_cast<std::size_t>(static_cast<double>(text.size()) / bytes_per_line * 1.03) + 16;
}

}  // namespace

result<ingest_report> parse_ratings_into(std::string_view text, std::string_view name,
                                         const ingest_options& opts, rating_table& table) {
  auto head = text.substr(0, detail::head_bytes);
  auto layout = detail::resolve_layout(head, head.size() == text.size(), name, opts);
  if (!layout) return layout.err();
  detail::parse_state st;
  st.name = std::string(name);
  st.strict = opts.strict;
  st.header_pending = layout->header;
  st.report.format = layout->format;

  auto old_ratings = table.ratings.size();
  auto old_capacity = table.ratings.capacity();
  auto old_users = table.users.size();
  auto old_items = table.items.size();
  if (auto want = old_ratings + estimate_lines(text); want > table.ratings.capacity()) {
    table.ratings.reserve(want);
  }
  auto stop = detail::parse_text(*layout, st, text, table.users, table.items, table.ratings);
  if (stop.err) {  // strict: leave the table as it was
    table.ratings.resize(old_ratings);
    if (table.ratings.capacity() > old_capacity) {  // give back what the reserve took
      std::vector<rating> kept;
      kept.reserve(old_capacity);
      kept.assign(table.ratings.begin(), table.ratings.end());
      table.ratings.swap(kept);
    }
    detail::truncate_ids(table.users, old_users);
    detail::truncate_ids(table.items, old_items);
    return std::move(*stop.err);
  }
  if (layout->format != input_format::detect) table.scale = layout->scale;
  return std::move(st.report);
}

result<ingest_report> read_ratings_into(const std::string& path, const ingest_options& opts,
                                        rating_table& table) {
  file_text file;
  if (auto ok = file.open(path); !ok) return ok.err();
  return parse_ratings_into(file.text(), path, opts, table);
}

result<rating_table> read_ratings(const std::string& path, const ingest_options& opts,
                                  ingest_report* report) {
  rating_table t;
  auto r = read_ratings_into(path, opts, t);
  if (!r) return r.err();
  if (report) *report = std::move(*r);
  return t;
}

}  // namespace recflow
