/// Validation error of a local graph's model, computed by the user owners in parallel and
/// in place: every owner holds after the batch (nothing moves), each user owner predicts
/// the validation ratings whose user it owns from its own store and the item owners'
/// stores, and writes each rating's core (b_u + b_i + u . p, predict_errors.hpp) at the
/// rating's position in one array; then the user owners finish and sum that array in
/// fixed blocks of positions (sum_error_blocks; the owner that wrote its cores last starts
/// them, evaluation_round in messages.hpp), and the coordinator adds the blocks in order
/// (metrics_of_sums). Only the cores whose rows changed since the evaluation before
/// are predicted again: a store stamps every key a batch touches (shard_store::changed).
/// Same value as evaluate() on the assembled model (and the reference trainer's), bit for
/// bit, for any number of partitions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/changed_ratings.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// The validation ratings of one user shard, grouped by user, each with its position and
/// its user's and item's index in the validation set (the values are the caller's, by
/// position). Store keys come from tables indexed by those: each run first looks up the
/// keys the stores added since the run before (stores only ever add keys), so the loop
/// reads this array, two table entries and the rows, and never hashes an id. It reads ids
/// from the validation set, which must outlive it: 16 bytes a rating, plus 4 bytes per
/// validation user, and per validation item and item shard.
class shard_evaluation {
 public:
  struct entry {
    std::uint32_t pos = 0;  ///< position in the validation set
    std::uint32_t item_shard = 0;
    index_t user = 0;  ///< the validation set's user index
    index_t item = 0;  ///< the validation set's item index
  };

  shard_evaluation() = default;
  shard_evaluation(const rating_table& validation, std::vector<entry> entries);

  /// Writes the core of every entry to cores[pos], from the stores as they are now. A user
  /// or item the stores do not hold, or hold untrained (count 0), is predicted without its
  /// row. After the first run, only entries whose user or item key the stores stamped
  /// since the run before are predicted (the others' cores are still in `cores`, which
  /// must be the same array each time); other stores than the last run's: all again.
  void run(const shard_store& users, std::span<const shard_store* const> items, double* cores);

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  /// Store keys of validation ids, npos where the store has none, brought up to date
  /// with the keys `store` added since the last call.
  struct key_table {
    std::vector<std::uint32_t> key;    ///< validation index -> store key
    std::vector<index_t> validation;   ///< store key -> validation index (npos: none)
    std::uint32_t seen = 0;            ///< store keys looked up so far
    void update(const shard_store& store, const id_map& ids);
    /// Appends the validation index of every key `store` stamped after `version`.
    void changed_since(const shard_store& store, std::uint32_t version,
                       std::vector<index_t>& out) const;
  };

  const rating_table* validation_ = nullptr;
  std::vector<entry> entries_;
  key_table users_;
  std::vector<key_table> items_;  ///< by item shard
  std::vector<const std::vector<std::uint32_t>*> item_keys_;  ///< items_' tables, for the loop
  changed_ratings changed_;  ///< entries_ by user and by item (built by the second run)
  std::vector<index_t> changed_users_, changed_items_;  ///< validation indices, this run
  std::vector<std::uint32_t> jobs_;  ///< entries to predict in this run
  // What the last run read: its stores, and the version of each (shard_store::version).
  const shard_store* user_store_ = nullptr;
  std::uint32_t user_version_ = 0;
  std::vector<const shard_store*> item_stores_;
  std::vector<std::uint32_t> item_versions_;
  double* cores_ = nullptr;
};

/// Cuts `validation` by the user shard of each rating (`users` maps user ids to shards,
/// `items` item ids), each part grouped by user.
std::vector<shard_evaluation> split_validation(const rating_table& validation,
                                               std::size_t shards, const partitioner& users,
                                               const partitioner& items);

}  // namespace recflow
