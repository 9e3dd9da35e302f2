// Redis credentials from a file readable by its owner only, or from the environment.
#include <cstdlib>
#include <sstream>

#include "recflow/model/private_file.hpp"
#include "recflow/sources/redis_client.hpp"

namespace recflow {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

/// Reads `path`: one line (the password) or two (the user, then the password).
result<redis_credentials> from_file(const std::string& path) {
  auto text = read_private_file(path, "Redis password file");
  if (!text)
    return text.err();
  std::istringstream in(*text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (auto t = trim_blanks(line); !t.empty())
      lines.emplace_back(t);
  if (lines.empty() || lines.size() > 2)
    return error{errc::invalid_argument,
                 "the Redis password file " + path
                   + " must hold one line (the password) or two (the user, then the password)"};
  if (lines.size() == 1)
    return redis_credentials{{}, lines[0]};
  return redis_credentials{lines[0], lines[1]};
}

}  // namespace

result<redis_credentials> read_redis_credentials(const std::string& password_file,
                                                 const std::string& user) {
  redis_credentials c;
  if (!password_file.empty()) {
    auto f = from_file(password_file);
    if (!f)
      return f.err();
    c = std::move(*f);
  } else {
    c.user = env("RECFLOW_REDIS_USER");
    c.password = env("RECFLOW_REDIS_PASSWORD");
  }
  if (!user.empty()) {
    if (!password_file.empty() && !c.user.empty() && c.user != user)
      return error{errc::invalid_argument, "--redis-user '" + user + "' differs from the user in "
                                             + password_file + " ('" + c.user + "')"};
    c.user = user;
  }
  if (c.password.empty() && !c.user.empty())
    return error{errc::invalid_argument,
                 "Redis user '" + c.user + "' has no password (give --redis-password-file or "
                   "set RECFLOW_REDIS_PASSWORD)"};
  return c;
}

}  // namespace recflow
