/// How an actor system makes and accepts node links: CAF's plain middleman, or TLS
/// through recflow's tunnel (tls_tunnel.hpp). With TLS, a middleman actor of recflow's
/// (CAF's own with two steps replaced) dials every connection through the tunnel and
/// serves the published port through it; BASP, node ids and proxies stay CAF's.
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
#include "recflow/actors/tls_tunnel.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

class link_layer {
 public:
  /// Plain links when `o.files` is empty; else starts the tunnel with those files (checked
  /// beforehand: check_link_tls), its limits and its log (which hears refusals, with the
  /// peer's address), and the middleman actor that uses it.
  static result<std::unique_ptr<link_layer>> start(caf::actor_system& sys, tls_tunnel_options o);
  ~link_layer();
  link_layer(const link_layer&) = delete;
  link_layer& operator=(const link_layer&) = delete;

  bool tls() const noexcept;
  /// The middleman actor of these links (CAF's own when plain).
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
             caf::io::middleman_actor mm);
  caf::actor_system& sys_;
  std::shared_ptr<tls_tunnel> tunnel_;  ///< shared with the middleman actor
  caf::io::middleman_actor mm_;
};

}  // namespace recflow
