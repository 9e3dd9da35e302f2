/// How node links are secured (issue 16): the shared secret, read from a file only the
/// owner can read; the TLS files, checked before CAF uses them; and the rule that a node
/// or driver runs with a secret, TLS or both, or plain text when asked for by name
/// (`insecure`). The challenge itself is actors/link_auth.hpp; TLS is recflow's tunnel
/// (actors/tls_tunnel.hpp, actors/link_layer.hpp).
#pragma once

#include <string>

#include "recflow/actors/link_auth.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// The line a node or driver writes on standard error when it runs without a secret.
inline constexpr const char* insecure_warning =
  "warning: --insecure: node links are not authenticated nor encrypted; anyone who reaches "
  "the node's port can deploy jobs on it and stop them";

/// The secret in `path`: its content without surrounding white space, at least
/// link_auth::min_secret_bytes bytes. Refused like ssh refuses a private key when the file
/// is not a regular file or group or others may read or write it ("the secret file PATH
/// has mode 0644: others may read it; chmod 600 PATH").
result<std::string> read_secret_file(const std::string& path);

/// A secret, TLS or both, or else insecure ("node links need a shared secret
/// (--secret-file PATH ...), TLS (--tls-cert ...) or ... --insecure"); a secret of at
/// least link_auth::min_secret_bytes bytes; TLS files that check_link_tls accepts.
result<void> check_link_security(const std::string& secret, bool insecure,
                                 const link_tls& tls = {});

/// TLS files the tunnel can use, checked before anything listens or connects, so that a
/// wrong file is an error naming it at start rather than refused connections later. None
/// (no TLS) is fine; else all three given, the key a regular file that only its owner may
/// read or write, unencrypted PEM, the key of the certificate, the CA's PEM readable, the
/// certificate signed by that CA. Errors name the file ("the certificate node.pem is not
/// signed by the CA in ca.pem: ...").
result<void> check_link_tls(const link_tls& tls);

}  // namespace recflow
