/// Validation error of a local graph's model, computed by the user owners in parallel and
/// in place: every owner holds after the batch (nothing moves), each user owner predicts
/// the validation ratings whose user it owns from its own store and the item owners'
/// stores, and writes each rating's error at the rating's position in one array; the
/// coordinator sums that array in order. Same value as evaluate() on the assembled model
/// (and the reference trainer's), bit for bit, for any number of partitions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// The validation ratings of one user shard, grouped by user, each with its value and its
/// user's and item's index in the validation set. Store keys come from tables indexed by
/// those: each run first looks up the keys the stores added since the run before (stores
/// only ever add keys), so the loop reads this array, two table entries and the rows, and
/// never hashes an id. It reads ids from the validation set, which must outlive it: 20
/// bytes a rating, plus 4 bytes per validation user, and per validation item and item
/// shard.
class shard_evaluation {
 public:
  struct entry {
    std::uint32_t pos = 0;  ///< position in the validation set
    std::uint32_t item_shard = 0;
    index_t user = 0;  ///< the validation set's user index
    index_t item = 0;  ///< the validation set's item index
    float value = 0.0f;  ///< the rating
  };

  shard_evaluation() = default;
  shard_evaluation(const rating_table& validation, std::vector<entry> entries);

  /// Writes prediction - value of every entry to errors[pos], from the stores as they are
  /// now (mu: the running mean after the batch evaluated). A user or item the stores do
  /// not hold, or hold untrained (count 0), is predicted without its row.
  void run(double mu, const rating_scale& scale, const shard_store& users,
           std::span<const shard_store* const> items, double* errors);

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  /// Store keys of validation ids, npos where the store has none, brought up to date
  /// with the keys `store` added since the last call.
  struct key_table {
    std::vector<std::uint32_t> key;  ///< validation index -> store key
    std::uint32_t seen = 0;          ///< store keys looked up so far
    void update(const shard_store& store, const id_map& ids);
  };

  const rating_table* validation_ = nullptr;
  std::vector<entry> entries_;
  key_table users_;
  std::vector<key_table> items_;  ///< by item shard
  std::vector<const std::vector<std::uint32_t>*> item_keys_;  ///< items_' tables, for the loop
};

/// Cuts `validation` by the user shard of each rating (`users` maps user ids to shards,
/// `items` item ids), each part grouped by user.
std::vector<shard_evaluation> split_validation(const rating_table& validation,
                                               std::size_t shards, const partitioner& users,
                                               const partitioner& items);

}  // namespace recflow
