#include "recflow/graph/checkpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "recflow/model/temp_file.hpp"

namespace recflow {

namespace fs = std::filesystem;

result<void> validate(const checkpoint_options& o) {
  if (o.every == 0)
    return error{errc::invalid_argument, "checkpoint interval must be positive, got 0 batches"};
  if (o.keep == 0)
    return error{errc::invalid_argument, "checkpoints to keep must be positive, got 0"};
  return {};
}

namespace {

constexpr std::string_view prefix = "ckpt-";
constexpr std::string_view suffix = ".rfm";

bool is_checkpoint_name(const std::string& name) {
  if (name.size() != prefix.size() + 12 + suffix.size() || !name.starts_with(prefix)
      || !name.ends_with(suffix))
    return false;
  return std::all_of(name.begin() + prefix.size(), name.end() - suffix.size(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint64_t> to_u64(const std::optional<std::string>& s) {
  if (!s || s->empty())
    return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc{} || p != s->data() + s->size())
    return std::nullopt;
  return v;
}

}  // namespace

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_checkpoint_name(it->path().filename().string()))
      out.push_back(it->path().string());
  std::sort(out.begin(), out.end());  // fixed-width numbers: name order is batch order
  return out;
}

result<std::string> write_checkpoint(const checkpoint_options& o, const factor_model& m,
                                     const stream_mark& mark, model_metadata extra) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (o.dir.empty())
    return error{errc::invalid_argument, "checkpoint folder is empty"};
  if (mark.position.find('\n') != std::string::npos)
    return error{errc::invalid_argument, "stream position holds a newline"};
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec)
    return error{errc::io, o.dir + ": cannot create the checkpoint folder: " + ec.message()};
  char digits[16];
  auto [end, dc] = std::to_chars(digits, digits + sizeof digits, mark.batches);
  (void)dc;
  std::string num(digits, end);
  if (num.size() < 12)
    num.insert(0, 12 - num.size(), '0');
  auto path = (fs::path(o.dir) / (std::string(prefix) + num + std::string(suffix))).string();
  extra.set("checkpoint_batches", std::to_string(mark.batches));
  extra.set("checkpoint_ratings", std::to_string(mark.ratings));
  extra.set("stream_position", mark.position);
  if (auto ok = save_model(m, path, extra); !ok)
    return ok.err();
  auto all = list_checkpoints(o.dir);
  for (std::size_t j = 0; j + o.keep < all.size(); ++j)
    fs::remove(all[j], ec);  // best effort: an old checkpoint left behind does no harm
  // Temporary files of a run killed while saving (`ckpt-N.rfm.tmp.<pid>.<random>`): only
  // this process's and those of a process that no longer runs; a live writer's (say, one
  // that does not take the folder lock) stay.
  for (fs::directory_iterator it(o.dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    auto tmp = name.find(".rfm.tmp.");
    if (tmp == std::string::npos || !is_checkpoint_name(name.substr(0, tmp + suffix.size())))
      continue;
    auto pid = temp_name_pid(name.substr(tmp + 9));
    if (pid > 0 && (pid == ::getpid() || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)))
      fs::remove(it->path(), ec);  // a link is removed, never followed
  }
  return path;
}

result<std::optional<loaded_checkpoint>> load_latest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  std::vector<std::string> rejected;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    model_metadata meta;
    auto m = load_model(*it, meta);
    if (!m) {
      rejected.push_back(m.err().message);
      continue;
    }
    auto batches = to_u64(meta.get("checkpoint_batches"));
    auto ratings = to_u64(meta.get("checkpoint_ratings"));
    auto position = meta.get("stream_position");
    if (!batches || !ratings || !position) {
      rejected.push_back(*it + ": not a checkpoint (checkpoint_batches, checkpoint_ratings "
                               "or stream_position missing from its metadata)");
      continue;
    }
    loaded_checkpoint c{std::move(*m), {*batches, *ratings, *position}, *it, std::move(rejected)};
    return std::optional<loaded_checkpoint>{std::move(c)};
  }
  if (!rejected.empty())
    return error{errc::corrupt, dir + ": no checkpoint loads; the newest failed: " + rejected.front()};
  return std::optional<loaded_checkpoint>{};
}

result<checkpoint_lock> checkpoint_lock::acquire(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return error{errc::io, dir + ": cannot create the checkpoint folder: " + ec.message()};
  auto path = (fs::path(dir) / "ckpt.lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return error{errc::io, dir + ": cannot open the checkpoint lock " + path + ": "
                             + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char text[32] = {};
    auto n = ::pread(fd, text, sizeof text - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(text, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
      holder.pop_back();
    if (e != EWOULDBLOCK)
      return error{errc::io, dir + ": cannot lock " + path + ": " + std::strerror(e)};
    return error{errc::io,  // a state of the folder, not a wrong argument: exit status 1
                 "checkpoint folder " + dir + " is in use by another writer (pid "
                   + (holder.empty() ? std::string("unknown") : holder) + ", holding " + path
                   + "); two runs must not write checkpoints into one folder"};
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; a refused writer then says "pid unknown".
  }
  return checkpoint_lock(fd);
}

checkpoint_lock& checkpoint_lock::operator=(checkpoint_lock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

checkpoint_lock::~checkpoint_lock() {
  if (fd_ >= 0)
    ::close(fd_);  // releases the lock; the file stays (removing it would race a new writer)
}

}  // namespace recflow
