// The chunked reader: a buffer of whole lines refilled from the file, fed to the same
// line parser as whole-file ingest.
#include "recflow/data/rating_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "recflow/data/line_parser.hpp"

namespace recflow {

struct rating_reader::impl {
  std::string path;
  int fd = -1;
  std::size_t block = default_block;
  std::vector<char> buf;     // [pos, complete) whole lines; [complete, len) a partial line
  std::size_t pos = 0;
  std::size_t complete = 0;
  std::size_t len = 0;
  bool eof = false;
  bool added_newline = false;  // fill() ended an unterminated last line
  detail::layout layout;
  detail::parse_state state;
  std::optional<error> failed;

  ~impl() {
    if (fd >= 0) ::close(fd);
  }

  /// Reads one more block; at end of file gives a last unterminated line its '\n'.
  result<void> fill() {
    if (pos > 0) {  // keep only the unread tail
      std::memmove(buf.data(), buf.data() + pos, len - pos);
      len -= pos;
      complete -= pos;
      pos = 0;
    }
    // room for a block, a '\n' added at end of file, and the parser's read slack
    auto need = len + block + 1 + detail::read_slack;
    // The tail is the start of one line, so a sixteenth of a block spare serves every
    // fill of a file of short lines; a longer line grows the buffer by half.
    if (buf.size() < need) buf.resize(std::max(need + block / 16, buf.size() + buf.size() / 2));
    ssize_t n;
    do n = ::read(fd, buf.data() + len, block);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return error{errc::io, path + ": cannot read: " + std::system_category().message(errno)};
    std::size_t old_len = len;
    len += static_cast<std::size_t>(n);
    if (n == 0) {
      eof = true;
      if (len > complete) {
        buf[len++] = '\n';
        added_newline = true;
      }
    }
    std::string_view fresh(buf.data() + old_len, len - old_len);
    if (auto nl = fresh.rfind('\n'); nl != std::string_view::npos) complete = old_len + nl + 1;
    return {};
  }

  /// Reads up to `max` ratings, `parse(begin, end, left)` parsing whole lines; stops at
  /// the first failure (kept in `failed`, for the caller to undo its part).
  template <class Parse>
  std::size_t read(std::size_t max, const Parse& parse) {
    std::size_t added = 0;
    while (added < max) {
      if (pos == complete) {
        if (eof) break;
        if (auto ok = fill(); !ok) {
          failed = ok.err();
          break;
        }
        continue;
      }
      auto stop = parse(buf.data() + pos, buf.data() + complete, max - added);
      pos = static_cast<std::size_t>(stop.pos - buf.data());
      added += stop.added;
      if (stop.err) {
        failed = std::move(stop.err);
        break;
      }
    }
    return added;
  }
};

rating_reader::rating_reader(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
rating_reader::rating_reader(rating_reader&&) noexcept = default;
rating_reader& rating_reader::operator=(rating_reader&&) noexcept = default;
rating_reader::~rating_reader() = default;

result<rating_reader> rating_reader::open(const std::string& path, const ingest_options& opts,
                                          std::size_t block_bytes) {
  auto p = std::make_unique<impl>();
  p->path = path;
  p->block = std::max<std::size_t>(block_bytes, 1);
  p->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (p->fd < 0)
    return error{errc::io, path + ": cannot open: " + std::system_category().message(errno)};
  while (!p->eof && p->len < detail::head_bytes)  // enough text to detect the format
    if (auto ok = p->fill(); !ok) return ok.err();
  auto file_len = p->len - (p->added_newline ? 1 : 0);  // what detection sees: the file's bytes
  auto head = std::string_view(p->buf.data(), std::min(file_len, detail::head_bytes));
  bool whole = p->eof && file_len <= detail::head_bytes;
  auto layout = detail::resolve_layout(head, whole, path, opts);
  if (!layout) return layout.err();
  p->layout = std::move(*layout);
  p->state.name = path;
  p->state.strict = opts.strict;
  p->state.header_pending = p->layout.header;
  p->state.report.format = p->layout.format;
  return rating_reader(std::move(p));
}

result<std::size_t> rating_reader::next(std::size_t max, rating_table& ids,
                                        std::vector<rating>& out) {
  auto& d = *impl_;
  if (d.failed) return *d.failed;
  auto old_out = out.size();
  auto old_users = ids.users.size();
  auto old_items = ids.items.size();
  auto added = d.read(max, [&](const char* p, const char* end, std::size_t left) {
    return detail::parse_lines(d.layout, d.state, p, end, left, ids.users, ids.items, out);
  });
  if (d.failed) {  // undo this call's part, as read_ratings_into would
    out.resize(old_out);
    detail::truncate_ids(ids.users, old_users);
    detail::truncate_ids(ids.items, old_items);
    return *d.failed;
  }
  if (d.layout.format != input_format::detect) ids.scale = d.layout.scale;
  return added;
}

result<std::size_t> rating_reader::next(std::size_t max, std::vector<external_rating>& out) {
  auto& d = *impl_;
  if (d.failed) return *d.failed;
  auto old_out = out.size();
  auto added = d.read(max, [&](const char* p, const char* end, std::size_t left) {
    return detail::parse_lines(d.layout, d.state, p, end, left, out);
  });
  if (d.failed) {
    out.resize(old_out);
    return *d.failed;
  }
  return added;
}

const ingest_report& rating_reader::report() const noexcept { return impl_->state.report; }
rating_scale rating_reader::scale() const noexcept { return impl_->layout.scale; }
bool rating_reader::done() const noexcept {
  return impl_->eof && impl_->pos == impl_->complete;
}

}  // namespace recflow
