/// Proving a shared secret over a node link (issue 16): HMAC-SHA256 challenges, no CAF.
///
///   driver -> node: (challenge_atom, driver nonce)
///   node -> driver: (challenge_atom, node nonce, node_proof(secret, driver nonce, node nonce))
///   driver -> node: (auth_atom, driver_proof(secret, node nonce, driver's CAF node id))
///   node -> driver: (auth_atom, accepted, message)
///
/// Each side draws its nonce from the kernel (32 bytes, hex), so a proof answers one
/// challenge only; the driver's proof names the node id it connects from, so the node
/// records that id as authenticated and no other. Proofs compare in constant time.
#pragma once

#include <string>
#include <string_view>

namespace recflow {

/// TLS on node links (recflow's tunnel, tls_tunnel.hpp): this process's certificate chain
/// and private key, both PEM, and the CA that signed every node's and driver's certificate.
/// Each side proves its certificate to the other (mutual TLS), so a peer without a
/// certificate from that CA is refused during the TLS handshake, before CAF reads any of
/// its bytes. All three files or none; none: plain TCP. (Checked by check_link_tls,
/// link_secret.hpp.)
struct link_tls {
  std::string certificate{};  ///< PEM certificate chain, this process's first
  std::string key{};          ///< PEM private key, unencrypted, mode 0600 or stricter
  std::string ca{};           ///< PEM certificate(s) of the CA that signs every node and driver

  bool enabled() const noexcept { return !certificate.empty() || !key.empty() || !ca.empty(); }
};

}  // namespace recflow

namespace recflow::link_auth {

/// Bytes a secret must have at least (a file with less is refused).
inline constexpr std::size_t min_secret_bytes = 16;

/// 32 random bytes from getrandom, as 64 hex digits.
std::string nonce();
/// HMAC-SHA256(secret, text) as 64 hex digits.
std::string hmac_hex(std::string_view secret, std::string_view text);
/// What a node answers a challenge with: proves the node holds the secret too.
std::string node_proof(std::string_view secret, std::string_view driver_nonce,
                       std::string_view node_nonce);
/// What a driver sends: HMAC over the node's nonce and the driver's CAF node id.
std::string driver_proof(std::string_view secret, std::string_view node_nonce,
                         std::string_view driver_id);
/// Equal strings, in a time that does not depend on where they differ.
bool same(std::string_view a, std::string_view b) noexcept;

}  // namespace recflow::link_auth
