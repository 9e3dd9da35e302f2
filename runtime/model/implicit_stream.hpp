/// Streaming implicit ALS: each micro-batch of events re-solves the rows of the users and
/// then the items it touches, exactly as a half sweep of implicit ALS would solve them,
/// against the other side's current rows and its current Gram matrix (the way Oryx's
/// speed layer folds new data in). Every entity keeps its events, so a row is always
/// solved from all of them, and each side's Gram matrix is kept up to date row by row as
/// rows move (exact_gram.hpp), never recomputed.
///
/// One batch, exactly (`passes` times steps 3 and 4):
///  1. Each event gets its stamp, its position in the stream (1, 2, ...); repeated events
///     of a pair add up, the pair keeping the latest stamp.
///  2. A user or item seen for the first time gets the row initial_factors(seed, side,
///     id, init_stddev), added to its side's Gram matrix.
///  3. Every user of the batch is solved (implicit_als_solver: Cholesky, or CG steps from
///     its current row) over all of its events, in order of the items' external ids, with
///     each event's weight times its recency factor (the user's events strictly later
///     than it, by stamp: implicit_params::recency_boost) against the items' rows and
///     Gram matrix as they stand. Its side's Gram matrix drops the old row, adds the new.
///  4. Every item of the batch likewise over its events (weights as summed, without a
///     recency factor: that belongs to the user), against the users' rows just solved.
/// Solves of one step read only the other side, so their order does not matter: a graph
/// whose shards each run steps 2-4 for their own keys (implicit_shard) computes the same
/// bits as this reference, which runs the same code with one shard per side.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/exact_gram.hpp"
#include "recflow/model/id_map.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// Parameters of streaming implicit ALS, with the shipped defaults: implicit_params' own
/// (rank, lambda, alpha, confidence, solver, recency; `iterations` is not used), one
/// re-solve of the batch's users and items per batch.
struct implicit_stream_params {
  implicit_params als{};
  int passes = 1;  ///< user-then-item re-solves per batch
  /// Every key is also re-solved once every `refresh_every` batches, events or not: in
  /// batch b (1-based), the keys whose id hashes to b modulo refresh_every (so that every
  /// layout of shards picks the same keys). Rows solved long ago against other rows that
  /// have since moved catch up. 0: only the batch's keys. The default (10) brings
  /// MovieLens 100K streamed in batches of 1,000 from HR@10 0.635 to 0.716 (batch implicit
  /// ALS: 0.711), for a tenth of all keys solved per batch more (docs/implicit.md).
  int refresh_every = 10;
};

/// The checks of validate(implicit_params) (its iterations aside), and what the stream
/// cannot do: weighting and missing weights need every event's statistics up front
/// ("the stream takes weighting none"), passes must be positive.
result<void> validate(const implicit_stream_params& p);
/// validate(p), and that a seed model (null: none) has p's rank: "seed model has rank 8,
/// params say 32".
result<void> validate(const implicit_stream_params& p, const factor_model* seed);

/// An event as the shards take it: external ids, the weight and the stream stamp.
struct stamped_event {
  std::int64_t user = 0;
  std::int64_t item = 0;
  float weight = 1.0f;
  std::uint64_t stamp = 0;
};

/// One of an entity's events: the other side's external id, the summed weight, the latest
/// stamp, and where the other side's row was last found (filled on first use).
struct entity_event {
  std::int64_t other = 0;
  float weight = 0.0f;
  std::uint64_t stamp = 0;
  std::uint32_t shard = id_map::npos;
  index_t row = 0;
};

class implicit_shard;

/// The other side as a solve reads it: its shards and the shard of an external id.
struct implicit_side_view {
  std::vector<const implicit_shard*> shards;
  std::function<std::uint32_t(std::int64_t)> shard_of;
};

/// The other side's rows as a solve in another process receives them: external ids
/// strictly increasing, one row each (of the shards' rank).
struct implicit_rows {
  std::vector<std::int64_t> ids;
  factor_table rows;
};

/// A shard's whole state as it travels: to a node as its seed, back as a snapshot. Keys
/// in index order, their rows, and their events (the events of key k are
/// events[offsets[k] .. offsets[k + 1]), other ids strictly increasing; each event's
/// `shard` and `row` are not used).
struct implicit_shard_parts {
  side owner = side::user;
  std::vector<std::int64_t> ids;
  factor_table rows;
  std::vector<std::uint64_t> offsets;  ///< ids.size() + 1, from 0 to events.size()
  std::vector<entity_event> events;
};

/// One shard of one side: its keys' rows, their events, the partial Gram matrix of its
/// rows, and the steps of the file comment for its keys. Not thread-safe; a solve reads
/// the other side's shards, which must not change meanwhile.
class implicit_shard {
 public:
  implicit_shard(side owner, const implicit_stream_params& p);

  side owner() const noexcept { return owner_; }
  /// Steps 1-2 for this shard: the events whose key (user or item, by side) is this
  /// shard's, stamped and checked (validate_events). Starts batch `batch` (1-based): the
  /// keys touched before are forgotten; the batch's keys and those refresh_every picks
  /// for it are solved.
  void add_events(std::span<const stamped_event> events, std::uint64_t batch);
  /// Step 3 (users) or 4 (items) for the keys of the current batch; `gram` is the other
  /// side's Gram matrix (the sum of its shards' grams(), as to_matrix()).
  void solve(const implicit_side_view& other, const Eigen::MatrixXd& gram);
  /// The same step with the other side's rows gathered from its shards: `other` must
  /// hold every id of needed(). The same bits as the solve above.
  void solve(const implicit_rows& other, const Eigen::MatrixXd& gram);
  /// The other side's ids the current batch's solve reads: every event's of the keys of
  /// touched(), strictly increasing.
  std::vector<std::int64_t> needed() const;
  /// The rows of this shard's keys among `ids` (strictly increasing), in their order;
  /// ids it does not hold are skipped.
  implicit_rows rows_of(std::span<const std::int64_t> ids) const;

  /// The shard's keys, rows and events (implicit_shard_parts).
  implicit_shard_parts parts() const;
  /// A shard of `p` holding `parts` (its Gram matrix summed from the rows), as it stands
  /// between batches. Fails on parts that break their invariants: ids repeated, a row
  /// count or offsets that do not fit, events not strictly increasing by other id, a
  /// weight not positive and finite, a row not finite.
  static result<implicit_shard> from_parts(implicit_shard_parts parts,
                                           const implicit_stream_params& p);

  /// Loads the rows and events of `m`'s entities for which `mine(external id)` holds;
  /// each recorded (user, item) pair of `m.rated()` becomes an event of weight 1 and
  /// stamp 0 (older than any streamed event). Only before the first batch.
  void seed(const factor_model& m, const std::function<bool(std::int64_t)>& mine);

  /// The Gram matrix of this shard's rows.
  const exact_gram& gram() const noexcept { return gram_; }
  const id_map& ids() const noexcept { return ids_; }
  const factor_table& rows() const noexcept { return rows_; }
  std::span<const entity_event> events_of(index_t key) const noexcept { return events_[key]; }
  /// Keys (local indices) of the current batch.
  std::span<const index_t> touched() const noexcept { return touched_; }

 private:
  index_t key_of(std::int64_t id);
  /// The solve of both overloads; `row_of(event)` gives the other side's row of an event.
  template <class RowOf>
  void solve_with(RowOf&& row_of, const Eigen::MatrixXd& gram);

  side owner_;
  implicit_stream_params params_;
  id_map ids_;
  factor_table rows_;
  std::vector<std::vector<entity_event>> events_;
  exact_gram gram_;
  std::vector<index_t> touched_;
  std::vector<std::uint8_t> is_touched_;
  implicit_als_solver solver_;
  factor_table gathered_;             // the other side's rows of one entity's events
  std::vector<index_t> sequence_;     // 0, 1, 2, ...
  std::vector<float> weights_;
  std::vector<std::uint64_t> stamps_;  // for the recency ranks
};

/// "event 3 of the batch has weight -1; event weights must be positive and finite".
result<void> validate_events(std::span<const stamped_event> events);

/// In which order a model lists its users and items: by their index in these maps (those
/// the maps lack after them), else by external id. A table's maps give the order
/// train_implicit_als gives the same table, so that both models draw the same sampled
/// negatives (evaluate_sampled_ranking draws by model index).
struct implicit_model_order {
  const id_map* users = nullptr;
  const id_map* items = nullptr;
};

/// The model of both sides' shards: users and items in `order`, their rows, counts (their
/// events) and the users' rated-items index; mu and biases 0 and the scale 0..1, as
/// train_implicit_als leaves them.
factor_model assemble_implicit_model(std::span<const implicit_shard* const> users,
                                     std::span<const implicit_shard* const> items, int rank,
                                     const implicit_model_order& order = {});

/// What runs a stream of events, the reference or the actor graph
/// (engine/implicit_graph.hpp): a job drives either through this. It stamps and counts
/// the batches; each runs the steps its own way.
class implicit_stream_updater {
 public:
  virtual ~implicit_stream_updater() = default;
  /// One micro-batch of events with external ids; their stamps are set here (the
  /// stream's positions), whatever they held. Fails, changing nothing, on a weight that is
  /// not positive and finite.
  result<void> apply(std::span<stamped_event> events);
  /// The model as of the last batch (assemble_implicit_model, in `order`). Fails only
  /// where the shards live in other processes and one cannot be read.
  virtual result<factor_model> snapshot(const implicit_model_order& order = {}) const = 0;
  std::uint64_t batches() const noexcept { return batches_; }
  std::uint64_t events() const noexcept { return stamp_; }

 protected:
  /// Steps 2-4 of batch `batch` (1-based) for events stamped and checked.
  virtual result<void> step(std::span<const stamped_event> events, std::uint64_t batch) = 0;

 private:
  std::uint64_t batches_ = 0;
  std::uint64_t stamp_ = 0;  // events applied
};

/// The single-threaded reference: one shard per side, the steps of the file comment.
class implicit_stream_trainer final : public implicit_stream_updater {
 public:
  /// From an empty model, or continuing from `seed` (e.g. train_implicit_als's model:
  /// its rank must be p.als.rank; its rated-items index gives its events, weight 1).
  static result<implicit_stream_trainer> make(const implicit_stream_params& p,
                                              const factor_model* seed = nullptr);

  /// One micro-batch: weights in `rating::value`, indices in `users` and `items`. Fails,
  /// changing nothing, on an index outside the maps or a weight that is not positive and
  /// finite.
  result<void> apply(std::span<const rating> batch, const id_map& users, const id_map& items);
  using implicit_stream_updater::apply;

  /// The model as of the last batch (assemble_implicit_model, in `order`).
  factor_model model(const implicit_model_order& order = {}) const;
  result<factor_model> snapshot(const implicit_model_order& order = {}) const override {
    return model(order);
  }
  const implicit_stream_params& params() const noexcept { return params_; }

 private:
  explicit implicit_stream_trainer(const implicit_stream_params& p);
  result<void> step(std::span<const stamped_event> events, std::uint64_t batch) override;

  implicit_stream_params params_;
  std::unique_ptr<implicit_shard> users_, items_;
};

/// A batch's events with external ids (not stamped yet); fails on an index outside
/// `users` / `items`.
result<std::vector<stamped_event>> to_events(std::span<const rating> batch, const id_map& users,
                                             const id_map& items);
/// Sets the stamps of `events` to first + 1, first + 2, ... and checks their weights.
result<void> stamp_events(std::span<stamped_event> events, std::uint64_t first);

}  // namespace recflow
