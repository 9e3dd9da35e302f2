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

/// The validation ratings of one user shard, grouped by user, with the store keys of their
/// user and item cached once found (stores only ever add keys). It reads the ratings from
/// the validation set, which must outlive it: 16 bytes a rating of its own.
class shard_evaluation {
 public:
  struct entry {
    std::uint32_t pos = 0;  ///< position in the validation set
    std::uint32_t item_shard = 0;
    std::uint32_t user_key = id_map::npos;  ///< npos until the user store has the user
    std::uint32_t item_key = id_map::npos;  ///< npos until the item store has the item
  };

  shard_evaluation() = default;
  shard_evaluation(const rating_table& validation, std::vector<entry> entries);

  /// Writes prediction - value of every entry to errors[pos], from the stores as they are
  /// now (mu: the running mean after the batch evaluated).
  void run(double mu, const rating_scale& scale, const shard_store& users,
           std::span<const shard_store* const> items, double* errors);

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  const rating_table* validation_ = nullptr;
  std::vector<entry> entries_;
};

/// Cuts `validation` by the user shard of each rating (`users` maps user ids to shards,
/// `items` item ids), each part grouped by user.
std::vector<shard_evaluation> split_validation(const rating_table& validation,
                                               std::size_t shards, const partitioner& users,
                                               const partitioner& items);

}  // namespace recflow
