/// The node actor: what `recflow node` publishes. A driver connects to it (CAF
/// middleman), says hello with its protocol version, then asks it to spawn the owners of
/// a job. The node watches each job's coordinator: when the driver goes away (it ended,
/// crashed or the connection broke) the node stops that job's actors and keeps serving.
///
///   driver -> node: (hello_atom, protocol version, driver name)
///   node -> driver: (hello_atom, node's version, accepted, message)
///   with a secret: the challenge of link_auth.hpp (challenge_atom, auth_atom)
///   driver -> node: (mesh_atom, mesh_request)  ->  node -> driver: (mesh_atom, count)
///   driver -> node: owner_spec  ->  node -> driver: (owner actor or null, error text)
///
/// A node given a secret refuses owner_spec, als_block_spec, mesh_atom and stop_node_atom
/// from any CAF node id that has not proven it (the refusal is the reply, and a log line
/// naming the peer). stop_node_atom from a peer is obeyed only when that peer is the
/// driver of every job running here; the node's own process stops it with stop_node.
/// Exit messages from outside are ignored (the node is linked to nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman_actor.hpp>

namespace recflow {

/// Driver -> node: stop every job's actors, then stop the node; obeyed only from the
/// (authenticated) driver of every running job.
using stop_node_atom = caf::atom_constant<caf::atom("stopnode")>;

/// Same process -> node: stop (SIGINT/SIGTERM). Never registered as a message type, so
/// it cannot arrive over the network: a peer's frame naming it fails to deserialize.
struct stop_node {};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stop_node&) {
  return f(caf::meta::type_name("recflow::stop_node"));
}

/// How a node runs, with defaults.
struct node_options {
  std::string name;                               ///< prefix of its log lines (may be empty)
  std::function<void(const std::string&)> log;    ///< one line per event (may be empty)
  /// The protocol this node speaks (tests set another to check the refusal).
  std::uint32_t protocol = 0;                     ///< 0: cluster_protocol_version
  /// The shared secret every driver must prove (link_auth.hpp); empty: none asked
  /// (node_host allows that only when told insecure).
  std::string secret;
  /// The middleman actor the node's mesh connects through (link_layer::handle: TLS when
  /// the node runs it); empty: CAF's plain one.
  caf::io::middleman_actor links{};
};

/// Spawns the node actor on `sys` (whose config has the graph and cluster messages).
caf::actor spawn_node(caf::actor_system& sys, node_options o = {});

}  // namespace recflow
