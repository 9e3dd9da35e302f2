// A test's own actor system speaking to a `recflow node` as a driver does (graph and
// cluster messages, the cluster's middleman settings, one scheduler thread), for tests
// that send a node hand-made, hostile or out-of-version messages.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"

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

/// The system and the node at 127.0.0.1:`port` (REQUIREs that it answers).
struct node_client : node_client_config {
  caf::actor_system sys{cfg};
  caf::actor node;
  explicit node_client(std::uint16_t port) {
    auto found = sys.middleman().remote_actor("127.0.0.1", port);
    REQUIRE(found);
    node = *found;
  }
};

}  // namespace recflow::test
