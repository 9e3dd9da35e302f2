#include "recflow/model/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace recflow {

namespace {

std::string octal_mode(mode_t m) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(m & 07777));
  return text;
}

/// Closes the descriptor on every return.
struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

}  // namespace

result<std::string> read_private_file(const std::string& path, std::string_view what) {
  auto named = "the " + std::string(what) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return error{errc::io, "cannot read " + named};
  fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return error{errc::invalid_argument, named + " is not a regular file"};
  if ((st.st_mode & 077) != 0)
    return error{errc::invalid_argument, named + " has mode " + octal_mode(st.st_mode)
                                           + ": group or others may read or write it; chmod 600 "
                                           + path};
  std::string all;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0)
      return error{errc::io, "cannot read " + named};
    if (n == 0)
      return all;
    all.append(buf, static_cast<std::size_t>(n));
    if (all.size() > max_private_file_bytes)
      return error{errc::invalid_argument, named + " is over 64 KiB"};
  }
}

std::string_view trim_blanks(std::string_view s) noexcept {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace recflow
