/// How an actor system makes and accepts node links: plain TCP, or TLS through recflow's
/// tunnel (tls_tunnel.hpp). A middleman actor of recflow's (CAF's own with its two socket
/// steps replaced) makes and accepts every link; BASP, node ids and proxies stay CAF's.
/// With TLS it dials through the tunnel and serves the published port through it, and the
/// tunnel keeps the bounds. Plain links keep the same bounds in CAF's own sockets, and
/// prove the shared secret on each connection before BASP starts (plain_links.hpp).
///
///   caf::actor_system sys{cfg};  // configure_cluster_middleman(cfg) before
///   auto links = link_layer::start(sys, {.files = tls, .log = log}).value();
///   auto port = links->publish(node, 4242, "0.0.0.0");       // a node
///   auto node = links->remote_actor("10.0.0.5", 4242);       // a driver
///
/// Destroy the layer before its actor system. A node's mesh connects through handle().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman_actor.hpp>

#include "recflow/actors/link_auth.hpp"
#include "recflow/actors/plain_links.hpp"
#include "recflow/actors/tls_tunnel.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

class link_layer {
 public:
  /// Plain links when `o.files` is empty (plain_links.hpp; with `secret`, each link proves
  /// it before BASP starts); else starts the tunnel with those files (checked beforehand:
  /// check_link_tls; the secret is then proved inside TLS, by link_auth). Either way with
  /// `o`'s limits and its log (which hears refusals, with the peer's address).
  static result<std::unique_ptr<link_layer>> start(caf::actor_system& sys, tls_tunnel_options o,
                                                   std::string secret = {});
  ~link_layer();
  link_layer(const link_layer&) = delete;
  link_layer& operator=(const link_layer&) = delete;

  bool tls() const noexcept;
  /// Plain links: why this end closed the last link it dialled to host:port ("does not
  /// know the shared secret ..."), or "".
  std::string refusal(const std::string& host, std::uint16_t port) const;
  /// The middleman actor of these links.
  caf::io::middleman_actor handle() const;
  /// Publishes `a` on host:port (port 0: any free one); the port bound.
  caf::expected<std::uint16_t> publish(const caf::actor& a, std::uint16_t port,
                                       const std::string& host);
  /// Stops accepting links for `a` (published on `port`).
  void unpublish(const caf::actor& a, std::uint16_t port);
  /// The actor published at host:port.
  caf::expected<caf::actor> remote_actor(const std::string& host, std::uint16_t port);

 private:
  link_layer(caf::actor_system& sys, std::shared_ptr<tls_tunnel> tunnel,
             std::unique_ptr<plain_links> plain, caf::io::middleman_actor mm);
  caf::actor_system& sys_;
  std::shared_ptr<tls_tunnel> tunnel_;  ///< with TLS; shared with the middleman actor
  std::unique_ptr<plain_links> plain_;  ///< without
  caf::io::middleman_actor mm_;
};

}  // namespace recflow
