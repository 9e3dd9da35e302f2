#include "recflow/engine/link_secret.hpp"

#include <string_view>

#include "recflow/actors/link_auth.hpp"
#include "recflow/model/private_file.hpp"

namespace recflow {

result<std::string> read_secret_file(const std::string& path) {
  auto all = read_private_file(path, "secret file");
  if (!all)
    return all.err();
  auto secret = std::string(trim_blanks(*all));
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
