/// User owner: holds a shard of U and the user biases. Each pass it ships the pass-start
/// rows of its users to the item owners (join, first half; shared, not copied), then sums the errors and item
/// rows they answer into per-user gradients (aggregation) and applies them once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/aggregator.hpp"
#include "recflow/actors/factor_owner.hpp"
#include "recflow/actors/join.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/graph/wire.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// The logic of a user owner, callable without an actor system.
class user_owner_state {
 public:
  user_owner_state(std::uint32_t shard, std::uint32_t item_shards, const stream_params& p);

  /// Starts a batch: adds new users, counts the ratings, groups them into blocks by item
  /// shard. Returns the pass-0 rows, one message per item shard (index = shard).
  std::vector<user_rows> begin(user_slice slice);
  /// Takes one item shard's answer for the current pass; true once all have answered.
  bool take(item_rows answer);
  /// Sums the pass's per-user gradients in batch order and applies them. Returns the
  /// next pass's rows, or nothing when the batch is done (then the item rows have been
  /// read: tell every item owner with a rows_consumed).
  std::vector<user_rows> finish_pass();

  /// Loads this shard's part of a seed model; only before the first batch.
  result<void> seed(const seed_shard& s) {
    if (in_batch_ || batches_done_ > 0)
      return error{errc::invalid_argument, "a seed model must be loaded before the first batch"};
    return store_.load(s.parts, s.key_base);
  }

  /// Across processes: `rows` (as begin / finish_pass return them) as wire frames, each
  /// holding only its block's distinct rows; sent() counts the frames' bytes instead.
  std::vector<wire::bytes> ship(const std::vector<user_rows>& rows);
  /// The same for the rows `m` for item shard `t` alone.
  wire::bytes ship_one(const user_rows& m, std::uint32_t t);
  /// Across processes: decodes an item owner's frame and checks it against the current
  /// pass (sender, batch, pass, block sizes, row count, rank) before take() may use it.
  result<item_rows> unship(std::span<const char> blob) const;

  bool in_batch() const noexcept { return in_batch_; }
  const batch_stamp& stamp() const noexcept { return stamp_; }
  std::uint64_t batches_done() const noexcept { return batches_done_; }
  /// Rows sent to item owners during the current (or last) batch.
  const edge_traffic& sent() const noexcept { return sent_; }
  /// Ratings of the current (or last) batch in this shard's slice.
  std::uint64_t ratings() const noexcept { return ratings_; }
  const shard_store& store() const noexcept { return store_; }
  shard_parts export_parts() const { return store_.export_parts(batches_done_, shard_); }
  shard_view view() const { return {batches_done_, side::user, shard_, &store_}; }

 private:
  std::vector<user_rows> rows(bool first_pass);
  /// Sums this pass's answers per user (its ratings in batch order) and steps each user
  /// at its last rating (the hot loop).
  RECFLOW_VECTOR_LOOP void sum_answers();

  std::uint32_t shard_, item_shards_;
  stream_params params_;
  shard_store store_;
  /// Shared with the in-process messages that point into it (`keep` of user_rows and
  /// item_rows): an owner in this process reading them in place keeps the rows alive
  /// even when this owner is stopped first (a recovery stops owners in any order).
  std::shared_ptr<gradient_sums> sums_ = std::make_shared<gradient_sums>();
  block_index blocks_;
  std::vector<item_rows> answers_;    ///< this pass, by item shard
  std::vector<const float*> item_factors_;   ///< sum_answers: answers_' rows by block
  std::vector<const double*> errors_in_;     ///< sum_answers: answers_' errors by block
  std::vector<std::vector<std::uint32_t>> item_local_;  ///< pass-0 `local` per item shard
  std::uint32_t answered_ = 0;
  std::vector<std::uint8_t> got_;              ///< this pass: answer of item shard t taken
  std::vector<std::uint32_t> answer_rows_;     ///< across processes: rows per item shard
  std::uint32_t pass_ = 0;
  batch_stamp stamp_;
  bool in_batch_ = false;
  std::uint64_t batches_done_ = 0;
  edge_traffic sent_;
  std::uint64_t ratings_ = 0;
};

/// Spawns a user owner that reports to `coordinator`; send it the item owners as a
/// peer_list before any slice.
/// With `wire`, rows travel as wire frames (owners in other processes; see ship/unship),
/// and after a snapshot batch the owner sends the coordinator a copy of its shard
/// (shard_parts). Without, in one process, it sends a shard_view and holds (starts no
/// batch) until release_atom. With `wire` and `frame_local`, owners in this process get
/// frames too: the traffic of a multi-node job, measured in one (partitions --measure).
caf::actor spawn_user_owner(caf::actor_system& sys, std::uint32_t shard, std::uint32_t item_shards,
                            const stream_params& p, caf::actor coordinator, bool wire = false,
                            bool frame_local = false);

}  // namespace recflow
