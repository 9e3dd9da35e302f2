/// Node links over plain TCP (link_layer.hpp without TLS), kept within the bounds a TLS
/// link keeps, in CAF's own sockets: recflow's middleman actor (CAF's with its two socket
/// steps replaced) reads every link, accepted or dialled, through a scribe that
///  - with a shared secret, proves it on the connection before BASP sends or reads a byte:
///    each end sends "recflow-link-1 " and a nonce of its own (80 bytes), then
///    HMAC-SHA256(secret, its role, the other's nonce, its nonce) as 64 hex digits; each
///    end checks the other's proof (in constant time) and closes the link on a wrong one.
///    A peer without the secret never reaches CAF's BASP, so it cannot claim a node id;
///  - reads BASP's headers: one claiming a payload over the maximum message closes the
///    connection before CAF sizes a buffer to it (CAF 0.17 zero-fills up to 4 GiB);
///  - counts accepted connections (at most max_connections open) and closes an accepted
///    peer that has not sent a whole BASP message (after its proof) within the handshake
///    timeout.
/// Every refusal is logged with the peer's address; the last one for each host:port this
/// process dialled is kept for the error a driver reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman_actor.hpp>

#include "recflow/actors/tls_tunnel.hpp"

namespace recflow {

class plain_links {
 public:
  /// `o`: the limits and the log (its TLS files are not read); `secret`: empty for links
  /// that prove nothing (--insecure, or TLS beneath).
  plain_links(caf::actor_system& sys, tls_tunnel_options o, std::string secret);
  /// Stops the thread that closes silent peers; before the actor system goes.
  ~plain_links();
  plain_links(const plain_links&) = delete;
  plain_links& operator=(const plain_links&) = delete;

  /// The middleman actor (detached, hidden) that makes and accepts these links, working
  /// for `broker`, CAF's BASP broker.
  caf::io::middleman_actor spawn_middleman(caf::actor broker);
  /// Why the last link dialled to host:port was closed by this end, or "" (say, "does not
  /// know the shared secret (its proof of it is wrong)").
  std::string refusal(const std::string& host, std::uint16_t port) const;

  struct state;

 private:
  caf::actor_system& sys_;
  std::shared_ptr<state> state_;
};

}  // namespace recflow
