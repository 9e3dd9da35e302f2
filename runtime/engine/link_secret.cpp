#include "recflow/engine/link_secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include "recflow/actors/link_auth.hpp"

namespace recflow {

namespace {

std::string octal_mode(mode_t m) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(m & 07777));
  return text;
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && ws(s.back()))
    s.remove_suffix(1);
  return s;
}

}  // namespace

result<std::string> read_secret_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return error{errc::io, "cannot read the secret file " + path};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error{errc::invalid_argument, "the secret file " + path + " is not a regular file"};
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return error{errc::invalid_argument,
                 "the secret file " + path + " has mode " + octal_mode(st.st_mode)
                   + ": group or others may read or write it; chmod 600 " + path};
  }
  std::string all;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return error{errc::io, "cannot read the secret file " + path};
    }
    if (n == 0)
      break;
    all.append(buf, static_cast<std::size_t>(n));
    if (all.size() > 65536) {
      ::close(fd);
      return error{errc::invalid_argument, "the secret file " + path + " is over 64 KiB"};
    }
  }
  ::close(fd);
  auto secret = std::string(trim(all));
  if (secret.size() < link_auth::min_secret_bytes)
    return error{errc::invalid_argument,
                 "the secret in " + path + " has " + std::to_string(secret.size())
                   + " bytes, fewer than " + std::to_string(link_auth::min_secret_bytes)
                   + " (make one with: head -c 32 /dev/urandom | base64 > " + path + ")"};
  return secret;
}

result<void> check_link_security(const std::string& secret, bool insecure) {
  if (!secret.empty() && insecure)
    return error{errc::invalid_argument, "a shared secret and --insecure exclude each other"};
  if (secret.empty() && !insecure)
    return error{errc::invalid_argument,
                 "node links need a shared secret (--secret-file PATH, a file only you can "
                 "read) or, for plain unauthenticated links, --insecure"};
  if (!secret.empty() && secret.size() < link_auth::min_secret_bytes)
    return error{errc::invalid_argument,
                 "the shared secret has " + std::to_string(secret.size())
                   + " bytes, fewer than " + std::to_string(link_auth::min_secret_bytes)};
  return {};
}

}  // namespace recflow
