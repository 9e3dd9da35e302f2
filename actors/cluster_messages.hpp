/// The messages of the graph across processes (CAF middleman): wire frames carrying
/// slices and rows as byte blobs (graph/wire.hpp), the node's handshake and the request
/// that spawns an owner on a node. Register them with add_cluster_message_types in every
/// process (driver and nodes), beside add_graph_message_types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/messages.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// The protocol between a driver and its nodes. Bump it whenever a cluster message, the
/// wire format or the owners' protocol changes: a driver and a node that disagree refuse
/// each other at connect time, before any message whose layout may differ is sent.
// 2: edge_traffic counts rows; 3: ALS blocks; 4: factors travel as float (shard parts, ALS);
// 5: owner_done carries the shard's ratings; 6: the shared-secret challenge (challenge_atom,
// auth_atom) and the node's refusals of unauthenticated peers; 7: implicit ALS blocks
// (als_block_spec's implicit parameters, ALS rows with a Gram matrix); 8: streaming implicit
// ALS owners (implicit_owner_spec, implicit wire frames)
inline constexpr std::uint32_t cluster_protocol_version = 8;

/// The most peers one mesh_request may name (a node connects to the job's own nodes only:
/// a longer list is refused, so a node cannot be made to scan a network).
inline constexpr std::size_t max_mesh_peers = 64;

/// Driver -> node, before any owner: (mesh_atom, mesh_request) naming the other nodes. The
/// node connects to each (middleman connect) and answers (mesh_atom, connected count) or
/// an error, so owners on different nodes talk over direct connections from the first
/// message on (CAF 0.17 can lose messages while it sets up connections on its own).

using hello_atom = caf::atom_constant<caf::atom("hello")>;    ///< driver -> node, first
using spawn_atom = caf::atom_constant<caf::atom("spawnown")>;  ///< driver -> node
using mesh_atom = caf::atom_constant<caf::atom("mesh")>;      ///< driver -> node
using ping_atom = caf::atom_constant<caf::atom("ping")>;      ///< driver -> node: alive?
/// driver -> node after hello, with a shared secret: (challenge_atom, driver nonce) ->
/// (challenge_atom, node nonce, node proof), then (auth_atom, driver proof) ->
/// (auth_atom, accepted, message). See link_auth.hpp.
using challenge_atom = caf::atom_constant<caf::atom("challenge")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;

/// A slice or a pass's rows as one blob (graph/wire.hpp); the receiver validates it.
struct wire_frame {
  std::vector<char> bytes;
};

/// Driver -> node: spawn one owner for the job coordinated by `coordinator`.
struct owner_spec {
  recflow::side side = recflow::side::user;  ///< which owner
  std::uint32_t shard = 0;
  std::uint32_t other_shards = 0;   ///< shard count of the other side
  stream_params params;
  caf::actor coordinator;           ///< reports go here; its loss ends the job on the node
};

/// Driver -> node, with mesh_atom: the other nodes to connect to.
struct mesh_request {
  std::vector<std::string> hosts;
  std::vector<std::uint16_t> ports;
};

/// Owner -> coordinator: a frame from a peer was rejected (the job cannot continue).
struct frame_rejected {
  std::string message;  ///< names the receiving owner, the peer and what was wrong
};

/// Loads a frame's bytes, refusing a length above the bytes left in the message (or, for a
/// source that cannot tell, above `max_loaded_frame_bytes`) before it allocates anything.
/// CAF 0.17 loads a std::vector<char> by resizing it to the length the sender claims and
/// only then finds the bytes missing: a 7-byte input made a process zero-fill 4 GiB.
caf::error load_frame_bytes(caf::deserializer& source, std::vector<char>& bytes);

/// The cap load_frame_bytes applies when its source cannot say how many bytes are left.
inline constexpr std::size_t max_loaded_frame_bytes = std::size_t(1) << 30;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_frame& x) {
  if constexpr (std::is_base_of_v<caf::deserializer, Inspector>)
    return load_frame_bytes(f, x.bytes);
  else
    return f(caf::meta::type_name("wire_frame"), x.bytes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_params& x) {
  return f(caf::meta::type_name("stream_params"), x.rank, x.gamma, x.gamma_bias, x.lambda,
           x.lambda_bias, x.passes, x.mode, x.seed, x.init_stddev, x.max_step);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owner_spec& x) {
  return f(caf::meta::type_name("owner_spec"), x.side, x.shard, x.other_shards, x.params,
           x.coordinator);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mesh_request& x) {
  return f(caf::meta::type_name("mesh_request"), x.hosts, x.ports);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, frame_rejected& x) {
  return f(caf::meta::type_name("frame_rejected"), x.message);
}

/// Registers the cluster messages with `cfg` (and the graph's, add_graph_message_types).
void add_cluster_message_types(caf::actor_system_config& cfg);

/// Middleman settings every process of a cluster uses: heartbeats, and an application
/// identifier so unrelated CAF programs are refused. (Direct node-to-node connections
/// come from mesh_atom; a silent peer is caught by the driver's stall timeout. TLS is not
/// CAF's: see link_layer.hpp.)
void configure_cluster_middleman(caf::actor_system_config& cfg);

/// A readable name of the process hosting `a` ("node 127.0.0.1:4242" is up to the
/// caller; this gives CAF's node id) for error messages.
std::string peer_name(const caf::actor_addr& a);

}  // namespace recflow
