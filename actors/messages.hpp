/// The messages of the streaming graph, their CAF 0.17 `inspect` overloads, and one
/// function that registers them all (call it on every actor_system_config that runs
/// the graph, tests included). Payloads are moved into messages, never copied per hop.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>

#include "recflow/graph/batch.hpp"
#include "recflow/graph/routes.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

using pull_atom = caf::atom_constant<caf::atom("pull")>;        ///< coordinator -> source
using end_atom = caf::atom_constant<caf::atom("end")>;          ///< source -> coordinator
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;///< coordinator -> owners
using release_atom = caf::atom_constant<caf::atom("release")>;  ///< coordinator -> owners
/// Coordinator -> owners in its own process (a request): hold, and answer a shard_view
/// (the local engine's snapshot reads the shards in place); release_atom ends the hold.
using view_atom = caf::atom_constant<caf::atom("view")>;

/// Coordinator -> partition: a batch to route.
struct stamped_batch {
  batch_stamp stamp;
  rating_batch ratings;
};

/// Partition -> user owner: the batch's ratings whose user it owns.
struct user_slice {
  batch_stamp stamp;
  std::vector<user_route> routes;
};

/// Partition -> item owner: the batch's ratings whose item it owns.
struct item_slice {
  batch_stamp stamp;
  std::vector<item_route> routes;
};

/// User owner s -> item owner t, once per pass: the pass-start biases and factors of the
/// block (s, t)'s users. In one process the rows are not copied: `bias` and `factors`
/// point into the sender's working set (indexed by the sender's slot), which the sender
/// does not write until every item owner has answered the pass, so the reads are
/// race-free (the pointers are not serialized; an engine across processes must ship
/// the rows instead). On pass 0 `local` gives each rating of the block (batch order)
/// its user's slot.
struct user_rows {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::uint32_t from = 0;
  std::vector<std::uint32_t> local;
  const double* bias = nullptr;    ///< by slot (local only)
  const float* factors = nullptr;  ///< rank floats per slot (local only)
  /// Across processes (graph/wire.hpp): `local` indexes the block's distinct rows,
  /// `rows` of them, which `bias` and `factors` point into and `keep` owns. In one
  /// process `keep` holds the sender's buffer, so the rows stay readable even if the
  /// sender is stopped before the receiver has read them.
  std::uint32_t rows = 0;
  std::shared_ptr<const void> keep{};
  /// In one process: the error buffer of the receiver's previous answer, read and handed
  /// back for the receiver's next one (so a pass allocates no error arrays; not serialized).
  std::vector<double> spare{};
};

/// Item owner t -> user owner s, once per pass: each rating's error (block order) and a
/// view of the pass-start item factors; `local` as in user_rows. The item owner applies
/// its own step only after the user owners have read the view (their next rows, or a
/// rows_consumed after the last pass, tell it so).
struct item_rows {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::uint32_t from = 0;
  std::vector<std::uint32_t> local;
  std::vector<double> errors;
  const float* factors = nullptr;  ///< rank floats per slot (local only)
  std::uint32_t rows = 0;           ///< across processes, as in user_rows
  std::shared_ptr<const void> keep{};  ///< as in user_rows
};

/// User owner -> every item owner, after the batch's last pass: the item rows it was
/// sent have been read, so the item owner may apply its last step.
struct rows_consumed {
  std::uint64_t batch = 0;
  std::uint32_t from = 0;
};

/// Messages and payload bytes sent on one edge, and the factor rows they carried: `rows`
/// counts each distinct row once per message (what ships when rows are serialized),
/// `remote_rows` those sent to an owner of another shard number (what a partition whose
/// user and item shards sit together must fetch from elsewhere).
struct edge_traffic {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t rows = 0;
  std::uint64_t remote_rows = 0;

  edge_traffic& operator+=(const edge_traffic& o) noexcept {
    messages += o.messages;
    bytes += o.bytes;
    rows += o.rows;
    remote_rows += o.remote_rows;
    return *this;
  }
};

/// Owner -> coordinator: this shard has applied every pass of `batch`.
struct owner_done {
  std::uint64_t batch = 0;
  recflow::side side = recflow::side::user;  ///< which owner
  std::uint32_t shard = 0;
  edge_traffic sent;           ///< rows sent to the other side for this batch
  double busy_seconds = 0.0;   ///< time spent in this batch's handlers
  std::uint64_t ratings = 0;   ///< ratings of the batch this shard applied (its load)
};

/// Partition -> coordinator: what routing a batch sent.
struct partition_done {
  std::uint64_t batch = 0;
  edge_traffic to_users, to_items;
};

/// Owner -> coordinator: the shard's parameters (a snapshot part), keys in local order.
struct shard_parts {
  std::uint64_t batch = 0;  ///< batches applied when exported
  recflow::side side = recflow::side::user;
  std::uint32_t shard = 0;
  std::vector<std::int64_t> ids;
  std::vector<std::uint64_t> first_seen;  ///< stream position of each key's first rating
  std::vector<std::uint32_t> counts;
  std::vector<double> bias;
  std::vector<float> factors;  ///< rank floats per key
};

/// Coordinator -> owner, before the first batch (a request; the owner answers ok): the
/// shard's part of a seed model (a trained model the stream continues from). Keys keep
/// their `first_seen` (the seed's dense index); keys the stream adds later are ordered
/// after every seeded key of the side, i.e. at `key_base` + stream position, so that a
/// snapshot lists keys in the order a seeded streaming_trainer does.
struct seed_shard {
  std::uint64_t key_base = 0;  ///< keys of this side in the whole seed model
  shard_parts parts;
};

class shard_store;

/// Owner -> coordinator, in one process, after a batch whose stamp asks for a snapshot:
/// a read-only view of the shard instead of a copy of it (shard_parts). The owner then
/// holds: it starts no further batch (so the view stays valid and unchanged) until the
/// coordinator, having evaluated, sends release_atom. The pointer is not serialized: an
/// engine across processes has its owners export shard_parts instead.
struct shard_view {
  std::uint64_t batch = 0;  ///< batches applied when viewed
  recflow::side side = recflow::side::user;
  std::uint32_t shard = 0;
  const shard_store* store = nullptr;
};

/// What an owner answers view_atom with: `view` of its shard, `held` set (it starts no
/// batch until release_atom); or an error when it speaks in frames (`wire`), where a
/// pointer means nothing.
inline caf::result<shard_view> answer_view(bool wire, bool& held, const shard_view& view) {
  if (wire)
    return caf::make_error(caf::sec::unexpected_message,
                           "a shard view is only for the driver's own process");
  held = true;
  return view;
}

class shard_evaluation;

/// Coordinator -> user owner, in one process, once every evaluate_shard of a batch has
/// written its cores (the last owner to finish sends these, see evaluation_round): sum the
/// errors of blocks [first, last) of the validation set (sum_error_blocks in
/// model/metrics.hpp) into `out`, from the cores every owner wrote, so that the owners
/// share the sums too; then tell the coordinator with errors_summed.
struct sum_errors {
  std::uint64_t batch = 0;
  double mu = 0.0;
  rating_scale scale{};
  std::size_t first = 0, last = 0;
  std::span<const double> cores;
  std::span<const float> truth;
  error_sums* out = nullptr;
};

/// One evaluation of a local graph, shared by its coordinator and its user owners: each
/// owner writes its cores (evaluate_shard); the one that finishes last, seeing `writing`
/// fall to zero, sends every owner its share of the sums (`sums`, by shard), and each
/// owner answers the coordinator once it has summed. One round of messages from the
/// coordinator and back, instead of one for the cores and one for the sums.
struct evaluation_round {
  std::atomic<std::size_t> writing{0};  ///< user owners still writing their cores
  std::vector<caf::actor> owners;       ///< the user owners, by shard
  std::vector<sum_errors> sums;         ///< each owner's share of the sums, by shard
};

/// Coordinator -> user owner, in one process, while every owner holds after a snapshot
/// batch: write the prediction cores of the validation ratings of `part` that changed
/// into `cores`, reading the item owners' `items` stores in place (actors/shard_eval.hpp),
/// then count down `round`. The pointers are not serialized: owners in other processes
/// export shard_parts instead.
struct evaluate_shard {
  std::uint64_t batch = 0;
  shard_evaluation* part = nullptr;
  const std::vector<const shard_store*>* items = nullptr;
  double* cores = nullptr;
  evaluation_round* round = nullptr;
};

/// User owner -> coordinator: this owner's share of the sums of `batch` is written.
struct errors_summed {
  std::uint64_t batch = 0;
};

/// Source -> coordinator: the stream broke.
struct source_failed {
  std::uint8_t code = 0;  ///< an errc
  std::string message;
};

/// Coordinator -> owners: the handles of the other side's owners.
struct peer_list {
  std::vector<caf::actor> peers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rating_event& x) {
  return f(caf::meta::type_name("rating_event"), x.user, x.item, x.value, x.timestamp);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rating_batch& x) {
  return f(caf::meta::type_name("rating_batch"), x.ratings, x.position);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_stamp& x) {
  return f(caf::meta::type_name("batch_stamp"), x.batch, x.offset, x.mu, x.mu_count, x.snapshot);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stamped_batch& x) {
  return f(caf::meta::type_name("stamped_batch"), x.stamp, x.ratings);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_route& x) {
  return f(caf::meta::type_name("user_route"), x.user, x.pos, x.item_shard);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, item_route& x) {
  return f(caf::meta::type_name("item_route"), x.item, x.value, x.pos, x.user_shard);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_slice& x) {
  return f(caf::meta::type_name("user_slice"), x.stamp, x.routes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, item_slice& x) {
  return f(caf::meta::type_name("item_slice"), x.stamp, x.routes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_rows& x) {
  return f(caf::meta::type_name("user_rows"), x.batch, x.pass, x.from, x.local);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, item_rows& x) {
  return f(caf::meta::type_name("item_rows"), x.batch, x.pass, x.from, x.local, x.errors);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rows_consumed& x) {
  return f(caf::meta::type_name("rows_consumed"), x.batch, x.from);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, edge_traffic& x) {
  return f(caf::meta::type_name("edge_traffic"), x.messages, x.bytes, x.rows, x.remote_rows);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owner_done& x) {
  return f(caf::meta::type_name("owner_done"), x.batch, x.side, x.shard, x.sent, x.busy_seconds,
           x.ratings);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_done& x) {
  return f(caf::meta::type_name("partition_done"), x.batch, x.to_users, x.to_items);
}
/// Whether every value is finite. CAF 0.17's binary serializer never returns from an
/// infinite float or double (its IEEE-754 packing halves the value until it is below 2),
/// so parameters that may have diverged are checked before they reach it.
template <class T>
bool finite_values(const std::vector<T>& v) noexcept {
  for (auto x : v)
    if (!std::isfinite(x))
      return false;
  return true;
}

/// The error a serializer gets for parameters that are not all finite (finite_values).
inline caf::error non_finite_parameters(const char* what) {
  return caf::make_error(caf::sec::invalid_argument,
                         std::string(what) + " holds a parameter that is NaN or infinite");
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_parts& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>)
    if (!finite_values(x.bias) || !finite_values(x.factors))
      return non_finite_parameters("a shard sent for a snapshot");
  return f(caf::meta::type_name("shard_parts"), x.batch, x.side, x.shard, x.ids, x.first_seen,
           x.counts, x.bias, x.factors);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_view& x) {
  return f(caf::meta::type_name("shard_view"), x.batch, x.side, x.shard);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, seed_shard& x) {
  return f(caf::meta::type_name("seed_shard"), x.key_base, x.parts);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, evaluate_shard& x) {
  return f(caf::meta::type_name("evaluate_shard"), x.batch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sum_errors& x) {
  return f(caf::meta::type_name("sum_errors"), x.batch, x.first, x.last);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, errors_summed& x) {
  return f(caf::meta::type_name("errors_summed"), x.batch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_failed& x) {
  return f(caf::meta::type_name("source_failed"), x.code, x.message);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_list& x) {
  return f(caf::meta::type_name("peer_list"), x.peers);
}

/// Registers every message type above with `cfg` (CAF 0.17 needs this in every process
/// that sends or receives them).
void add_graph_message_types(caf::actor_system_config& cfg);

}  // namespace recflow
