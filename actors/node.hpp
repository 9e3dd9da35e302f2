/// The node actor: what `recflow node` publishes. A driver connects to it (CAF
/// middleman), says hello with its protocol version, then asks it to spawn the owners of
/// a job. The node watches each job's coordinator: when the driver goes away (it ended,
/// crashed or the connection broke) the node stops that job's actors and keeps serving.
///
///   driver -> node: (hello_atom, protocol version, driver name)
///   node -> driver: (hello_atom, node's version, accepted, message)
///   driver -> node: owner_spec  ->  node -> driver: (owner actor or null, error text)
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <caf/all.hpp>

namespace recflow {

/// Local -> node: stop every job's actors, then stop the node (SIGINT/SIGTERM).
using stop_node_atom = caf::atom_constant<caf::atom("stopnode")>;

/// How a node runs, with defaults.
struct node_options {
  std::string name;                               ///< prefix of its log lines (may be empty)
  std::function<void(const std::string&)> log;    ///< one line per event (may be empty)
  /// The protocol this node speaks (tests set another to check the refusal).
  std::uint32_t protocol = 0;                     ///< 0: cluster_protocol_version
};

/// Spawns the node actor on `sys` (whose config has the graph and cluster messages).
caf::actor spawn_node(caf::actor_system& sys, node_options o = {});

}  // namespace recflow
