/// Which validation ratings to predict again after a batch: those of the users and items
/// the batch changed (predict_errors.hpp keeps the others' cores). Shared by the reference's
/// validation_evaluator (metrics.hpp) and the graph's shard_evaluation
/// (actors/shard_eval.hpp).
///
///   changed_ratings index(user_of, item_of, n_users, n_items);  // entries grouped by user
///   index.select(changed_users, changed_items, jobs);             // entry numbers, each once
///
/// The work of select() grows with the ratings selected, not with the validation set: the
/// ratings of a user are one range, those of an item a list. Memory: 8 bytes per entry,
/// 4 per user and per item, and a byte per user.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/ratings.hpp"

namespace recflow {

class changed_ratings {
 public:
  changed_ratings() = default;
  /// Entries 0..n-1 with user `user_of[j]` (< n_users) and item `item_of[j]` (< n_items),
  /// grouped by user in ascending order (the entries of user u are adjacent, and come
  /// after those of every user below u).
  changed_ratings(std::span<const index_t> user_of, std::span<const index_t> item_of,
                  index_t n_users, index_t n_items);

  /// The entries of the users `users` and of the items `items` (indices out of range are
  /// ignored), each once, into `out` (cleared first): those of the users first, in
  /// ascending order, then the others of each item in turn. An item listed twice lists
  /// its entries twice.
  void select(std::span<const index_t> users, std::span<const index_t> items,
              std::vector<std::uint32_t>& out);

  /// The same over entries with members `user` and `item` (grouped by user likewise).
  template <class Entry>
  static changed_ratings of(std::span<const Entry> entries, index_t n_users, index_t n_items) {
    std::vector<index_t> user_of(entries.size()), item_of(entries.size());
    for (std::size_t j = 0; j < entries.size(); ++j) {
      user_of[j] = entries[j].user;
      item_of[j] = entries[j].item;
    }
    return changed_ratings(user_of, item_of, n_users, n_items);
  }

  /// Whether this was built (a default-constructed one selects nothing).
  bool built() const noexcept { return !user_begin_.empty(); }

 private:
  std::vector<std::uint32_t> user_begin_;  ///< user u: entries user_begin_[u] .. [u + 1]
  std::vector<std::uint32_t> item_begin_;  ///< item i: by_item_[item_begin_[i] .. [i + 1]]
  struct item_entry {
    std::uint32_t entry = 0;
    index_t user = 0;
  };
  std::vector<item_entry> by_item_;         ///< entries grouped by item, with their users
  std::vector<std::uint8_t> user_marked_;   ///< select(): the users taken whole
};

}  // namespace recflow
