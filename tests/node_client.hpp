// A test's own actor system speaking to a `recflow node` as a driver does (graph and
// cluster messages, the cluster's middleman settings, one scheduler thread), for tests
// that send a node hand-made, hostile or out-of-version messages.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/link_layer.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/engine/cluster_connect.hpp"

#include "node_process.hpp"

namespace recflow::test {

/// The configuration, set up before the system that reads it is built.
struct node_client_config {
  caf::actor_system_config cfg;
  node_client_config() {
    add_graph_message_types(cfg);
    add_cluster_message_types(cfg);
    configure_cluster_middleman(cfg);
    cfg.set("scheduler.max-threads", 1);
  }
};

/// The system and the node at 127.0.0.1:`port` (REQUIREs that it answers), its link
/// opened with the tests' shared secret (the node closes a link without its proof), having
/// proven `secret` to the node as a driver does (REQUIREd to succeed; empty: no proof, a
/// stranger past the link, as a certificate holder without the secret is past TLS).
struct node_client : node_client_config {
  caf::actor_system sys{cfg};
  std::unique_ptr<link_layer> links;
  caf::actor node;
  explicit node_client(std::uint16_t port, const std::string& secret = node_secret()) {
    auto layer = link_layer::start(sys, {}, node_secret());
    REQUIRE(layer);
    links = std::move(*layer);
    auto found = links->remote_actor("127.0.0.1", port);
    REQUIRE(found);
    node = *found;
    if (!secret.empty()) {
      auto ok = authenticate(secret);
      INFO((ok ? std::string() : ok.err().message));
      REQUIRE(ok);
    }
  }
  ~node_client() {
    node = nullptr;
    links.reset();  // before the system
  }
  /// The secret's challenge, as connect_nodes does it.
  result<void> authenticate(const std::string& secret) {
    caf::scoped_actor self{sys};
    return prove_secret(sys, self, node, "under test", secret, std::chrono::seconds(10));
  }
};

}  // namespace recflow::test
