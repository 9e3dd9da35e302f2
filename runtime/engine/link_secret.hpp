/// The shared secret of node links (issue 16): read from a file only the owner can read,
/// and the rule that a node or driver runs with a secret, or plain text when asked for by
/// name (`insecure`). The challenge itself is actors/link_auth.hpp.
#pragma once

#include <string>

#include "recflow/model/error.hpp"

namespace recflow {

/// The line a node or driver writes on standard error when it runs without a secret.
inline constexpr const char* insecure_warning =
  "warning: --insecure: node links are not authenticated; anyone who reaches the node's "
  "port can deploy jobs on it and stop them";

/// The secret in `path`: its content without surrounding white space, at least
/// link_auth::min_secret_bytes bytes. Refused like ssh refuses a private key when the file
/// is not a regular file or group or others may read or write it ("the secret file PATH
/// has mode 0644: others may read it; chmod 600 PATH").
result<std::string> read_secret_file(const std::string& path);

/// A secret, or insecure: exactly one ("a node needs a shared secret (--secret-file) or
/// --insecure"); a secret of at least link_auth::min_secret_bytes bytes.
result<void> check_link_security(const std::string& secret, bool insecure);

}  // namespace recflow
