/// Streaming implicit ALS across processes: an owner on a `recflow node` holding one shard
/// of one side, driven batch by batch by a driver in another process
/// (engine/implicit_cluster.hpp). Everything between processes travels as wire frames
/// (graph/implicit_wire.hpp) that the receiver validates.
///
///   driver --(implicit_events_atom, events frame)--> owner: keys, events
///   driver --(implicit_remote_solve: the other side's Gram words)--> owners of one side
///   owner --(implicit_fetch_atom, ids frame)--> every owner of the other side
///         <-- rows frame: the rows of those ids it holds
///   owner --(implicit_owner_done: its Gram words)--> driver, after each step
///   driver --(implicit_export_atom)--> owner  ->  shard frame (a snapshot)
///
/// A solve waits for the rows of every id it needs, then runs implicit_shard::solve with
/// them: the same bits as the in-process graph, which reads the other side in place.
#pragma once

#include <cstdint>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/implicit_owner.hpp"

namespace recflow {

using implicit_events_atom = caf::atom_constant<caf::atom("imevents")>;  ///< + events frame
using implicit_fetch_atom = caf::atom_constant<caf::atom("imfetch")>;    ///< + ids frame
using implicit_export_atom = caf::atom_constant<caf::atom("imexport")>;  ///< -> shard frame

/// Driver -> the owners of one side: solve batch `batch`'s keys (pass `pass`) against the
/// other side's Gram matrix (exact_gram::words).
struct implicit_remote_solve {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::vector<std::uint64_t> gram;
};

/// Driver -> node: spawn the owner of shard `shard` of side `side`, for the job coordinated
/// by `coordinator`, holding `seed` (an implicit shard frame; empty: an empty shard).
struct implicit_owner_spec {
  implicit_stream_params params;
  recflow::side side = recflow::side::user;
  std::uint32_t shard = 0;
  caf::actor coordinator;
  wire_frame seed;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_stream_params& x) {
  return f(caf::meta::type_name("implicit_stream_params"), x.als, x.passes, x.refresh_every);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_remote_solve& x) {
  return f(caf::meta::type_name("implicit_remote_solve"), x.batch, x.pass, x.gram);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_owner_spec& x) {
  return f(caf::meta::type_name("implicit_owner_spec"), x.params, x.side, x.shard,
           x.coordinator, x.seed);
}

/// Registers the messages above and those of implicit_owner.hpp with `cfg`.
void add_implicit_cluster_message_types(caf::actor_system_config& cfg);

/// Spawns the owner `spec` describes (validated by the caller: parameters, side, rank);
/// fails on a seed frame that does not decode into a shard of its side and rank. Send it
/// the other side's owners as a peer_list before the first batch.
result<caf::actor> spawn_remote_implicit_owner(caf::actor_system& sys,
                                               const implicit_owner_spec& spec);

}  // namespace recflow
