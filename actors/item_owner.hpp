/// Item owner: holds a shard of P and the item biases. Each pass it joins its ratings
/// with the user rows the user owners ship and its own item rows, computes every
/// rating's error against that one snapshot, answers each user owner with the errors
/// and a view of the pass-start item rows, and applies its summed item gradients once
/// the user owners have read that view.
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

/// The logic of an item owner, callable without an actor system.
class item_owner_state {
 public:
  item_owner_state(std::uint32_t shard, std::uint32_t user_shards, const stream_params& p);

  /// Starts a batch: adds new items, counts the ratings, groups them into blocks by user
  /// shard; rows that arrived early for this batch are taken now.
  void begin(item_slice slice);
  /// Takes one user shard's rows (for the current pass, or early for the next batch).
  void take(user_rows rows);
  /// True when the current pass has every user shard's rows.
  bool ready() const noexcept {
    return in_batch_ && !awaiting_consumed_ && received_ == user_shards_;
  }
  /// Makes the previous pass's stepped item rows current, computes this pass's errors,
  /// sums and steps each item (its ratings in batch order) into the second rows, and
  /// returns the answers (one per user shard, index = shard) that point into the
  /// pass-start rows. Requires ready().
  std::vector<item_rows> finish_pass();
  /// Takes one user owner's rows_consumed after the last pass; when all have come,
  /// makes the last step's rows current, writes the shard back and ends the batch (returns true).
  bool consumed(const rows_consumed& m);

  /// Loads this shard's part of a seed model; only before the first batch.
  result<void> seed(const seed_shard& s) {
    if (in_batch_ || batches_done_ > 0)
      return error{errc::invalid_argument, "a seed model must be loaded before the first batch"};
    return store_.load(s.parts, s.key_base);
  }

  /// Across processes: the answers (as finish_pass returns them) as wire frames holding
  /// each block's distinct item rows; sent() counts the frames' bytes instead.
  std::vector<wire::bytes> ship(const std::vector<item_rows>& answers);
  /// The same for the answer `m` to user shard `s` alone.
  wire::bytes ship_one(const item_rows& m, std::uint32_t s);
  /// Across processes: decodes a user owner's frame; checks what can be checked on
  /// arrival (sender, rank, no second copy of a pass). Rows for a batch not begun yet are
  /// checked against the block sizes by check_pass().
  result<user_rows> unship(std::span<const char> blob) const;
  /// Across processes: before finish_pass, checks that every user shard's rows fit the
  /// current blocks (row indices per rating, row counts equal to pass 0's).
  result<void> check_pass() const;

  bool in_batch() const noexcept { return in_batch_; }
  const batch_stamp& stamp() const noexcept { return stamp_; }
  std::uint64_t batches_done() const noexcept { return batches_done_; }
  const edge_traffic& sent() const noexcept { return sent_; }
  /// Ratings of the current (or last) batch in this shard's slice.
  std::uint64_t ratings() const noexcept { return ratings_; }
  const shard_store& store() const noexcept { return store_; }
  shard_parts export_parts() const { return store_.export_parts(batches_done_, shard_); }
  shard_view view() const { return {batches_done_, side::item, shard_, &store_}; }

 private:
  /// Errors of this pass's ratings into `out` and each item's step, the ratings grouped
  /// by item (the hot loop).
  RECFLOW_VECTOR_LOOP void join_pass(std::vector<item_rows>& out);

  std::uint32_t shard_, user_shards_;
  stream_params params_;
  shard_store store_;
  /// Shared with the in-process messages that point into it (`keep` of user_rows and
  /// item_rows): an owner in this process reading them in place keeps the rows alive
  /// even when this owner is stopped first (a recovery stops owners in any order).
  std::shared_ptr<gradient_sums> sums_ = std::make_shared<gradient_sums>();
  block_index blocks_;
  std::vector<double> values_;        ///< rating of each rating (in entries' order)
  std::vector<user_rows> rows_;       ///< this pass, by user shard
  std::vector<std::vector<std::uint32_t>> user_local_;  ///< pass-0 `local` per user shard
  std::vector<user_rows> pending_;    ///< rows of a batch not begun yet
  std::vector<const float*> user_factors_;   ///< join_pass: rows_ by block
  std::vector<const double*> user_bias_;     ///< join_pass: rows_ by block
  std::vector<double*> errors_out_;                       ///< join_pass: errors by block
  std::uint32_t received_ = 0;
  std::vector<std::uint8_t> got_;           ///< this pass: rows of user shard s taken
  std::vector<std::uint32_t> rows_count_;   ///< across processes: pass-0 rows per user shard
  std::uint32_t consumed_ = 0;
  bool step_pending_ = false;       ///< stepped rows wait until the pass-start rows have been read
  bool awaiting_consumed_ = false;  ///< last pass answered; waiting for rows_consumed
  std::uint32_t pass_ = 0;
  batch_stamp stamp_;
  bool in_batch_ = false;
  std::uint64_t batches_done_ = 0;
  edge_traffic sent_;
  std::uint64_t ratings_ = 0;
};

/// Spawns an item owner that reports to `coordinator`; send it the user owners as a
/// peer_list before any slice.
/// With `wire`, rows travel as wire frames (owners in other processes; see ship/unship),
/// and after a snapshot batch the owner sends the coordinator a copy of its shard
/// (shard_parts). Without, in one process, it sends a shard_view and holds (starts no
/// batch) until release_atom. With `wire` and `frame_local`, owners in this process get
/// frames too: the traffic of a multi-node job, measured in one (partitions --measure).
caf::actor spawn_item_owner(caf::actor_system& sys, std::uint32_t shard, std::uint32_t user_shards,
                            const stream_params& p, caf::actor coordinator, bool wire = false,
                            bool frame_local = false);

}  // namespace recflow
