/// Streaming implicit ALS as actors: one owner per shard of each side, each holding an
/// implicit_shard (model/implicit_stream.hpp), driven batch by batch by a coordinator.
///
///   coordinator --(implicit_events: the shard's events)--> every owner: keys, events
///   coordinator --(implicit_solve: the item side's view and Gram)--> user owners: solve
///   coordinator --(implicit_solve: the user side's view and Gram)--> item owners: solve
///   owner --(implicit_owner_done: its partial Gram matrix)--> coordinator
///
/// In one process a solve reads the other side's shards in place (they do not change
/// during the step: the coordinator starts a step only when the other side has reported),
/// so no factor row is copied between owners. The partial Gram matrices travel as exact
/// integer words and add up in any order to the same sum, so the model is the reference
/// trainer's bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "recflow/model/implicit_stream.hpp"

namespace recflow {

/// Coordinator -> owner: the events of batch `batch` (1-based) whose key is the owner's.
struct implicit_events {
  std::uint64_t batch = 0;
  std::vector<stamped_event> events;
};

/// What a solve step reads: the other side's shards and their summed Gram matrix.
struct implicit_solve_input {
  implicit_side_view other;
  Eigen::MatrixXd gram;
};

/// Coordinator -> owner: solve the batch's keys (pass `pass`). In one process only: the
/// input points at the other side's shards (not serialized).
struct implicit_solve {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::shared_ptr<const implicit_solve_input> input{};
};

/// Owner -> coordinator, after each step: the shard's Gram matrix (exact_gram::words),
/// the keys it solved and the time its handler took.
struct implicit_owner_done {
  std::uint64_t batch = 0;
  recflow::side side = recflow::side::user;
  std::uint32_t shard = 0;
  std::vector<std::uint64_t> gram;
  std::uint64_t solved = 0;
  double busy_seconds = 0.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stamped_event& x) {
  return f(caf::meta::type_name("stamped_event"), x.user, x.item, x.weight, x.stamp);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_events& x) {
  return f(caf::meta::type_name("implicit_events"), x.batch, x.events);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_solve& x) {
  return f(caf::meta::type_name("implicit_solve"), x.batch, x.pass);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_owner_done& x) {
  return f(caf::meta::type_name("implicit_owner_done"), x.batch, x.side, x.shard, x.gram,
           x.solved, x.busy_seconds);
}

/// The report of shard `number` after a step of batch `batch` that solved `solved` keys in
/// `busy_seconds`: its side and its Gram matrix as exact words.
implicit_owner_done owner_report(const implicit_shard& shard, std::uint32_t number,
                                 std::uint64_t batch, std::uint64_t solved, double busy_seconds);

/// Registers the messages above with `cfg`.
void add_implicit_message_types(caf::actor_system_config& cfg);

/// Spawns the owner of `shard` (shard number `number` of its side), reporting to
/// `coordinator`. The shard is shared: the coordinator reads it (snapshots) and the other
/// side's owners read it (solves) while this owner is idle.
caf::actor spawn_implicit_owner(caf::actor_system& sys, std::shared_ptr<implicit_shard> shard,
                                std::uint32_t number, caf::actor coordinator);

}  // namespace recflow
