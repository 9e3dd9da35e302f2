/// Which validation ratings to predict again after a batch: those of the users and items
/// the batch changed (predict_errors.hpp keeps the others' cores). Shared by the reference's
/// validation_evaluator (metrics.hpp) and the graph's shard_evaluation
/// (actors/shard_eval.hpp).
///
///   changed_ratings index(user_of, item_of, n_users, n_items);  // entries grouped by user
///   bool all = index.select(changed_users, changed_items, jobs);  // ascending entry numbers
///
/// The ratings of a user are one range, those of an item a list; the selection is a
/// bitset over the entries, read back in entry order. That order matters: predicting the
/// entries grouped by user reads each user's row once, and a 2M-rating stream with a
/// selection in item order instead ran the reference's stream 1.57x slower (the users' table
/// is the larger one). Memory: 4 bytes per entry, per user and per item, and a bit per
/// entry.
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
  /// ignored, repeats are fine), each once, ascending, into `out` (cleared first); false.
  /// When they name 80% of the entries or more (a large batch): true, with `out` left
  /// empty, meaning every entry. Predicting the few others costs less than selecting, and
  /// no list of every entry is kept (4 bytes an entry).
  [[nodiscard]] bool select(std::span<const index_t> users, std::span<const index_t> items,
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
  /// Entries indexed.
  std::size_t size() const noexcept { return entries_; }

 private:
  std::vector<std::uint32_t> user_begin_;  ///< user u: entries user_begin_[u] .. [u + 1]
  std::vector<std::uint32_t> item_begin_;  ///< item i: by_item_[item_begin_[i] .. [i + 1]]
  std::vector<std::uint32_t> by_item_;     ///< entry numbers grouped by item
  std::vector<std::uint64_t> bits_;        ///< select(): the entries chosen
  std::uint32_t entries_ = 0;
};

}  // namespace recflow
