/// Ratings grouped by user and by item (compressed rows), as ALS solves them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/ratings.hpp"

namespace recflow {

/// Ratings grouped by one side: for row `e`, the other side's indices and the values,
/// in the order the ratings were given.
struct rating_csr {
  std::vector<std::uint64_t> offsets;  ///< size rows()+1, offsets[0] == 0
  std::vector<index_t> cols;           ///< the other side's index of each rating
  std::vector<float> values;           ///< the rating values, parallel to `cols`

  index_t rows() const noexcept {
    return offsets.empty() ? 0 : static_cast<index_t>(offsets.size() - 1);
  }
  std::uint64_t nnz() const noexcept { return cols.size(); }
  std::uint32_t count(index_t e) const noexcept {
    return static_cast<std::uint32_t>(offsets[e + 1] - offsets[e]);
  }
  std::span<const index_t> cols_of(index_t e) const noexcept {
    return {cols.data() + offsets[e], cols.data() + offsets[e + 1]};
  }
  std::span<const float> values_of(index_t e) const noexcept {
    return {values.data() + offsets[e], values.data() + offsets[e + 1]};
  }
};

/// The same ratings indexed both ways, over compact indices: only the users and items
/// that have at least one rating get a compact index, in increasing table index.
struct rating_blocks {
  rating_csr by_user;  ///< rows: compact users; cols: compact items
  rating_csr by_item;  ///< rows: compact items; cols: compact users
  /// Table index of each compact user / item (the reverse of the compaction).
  std::vector<index_t> user_of, item_of;

  index_t n_users() const noexcept { return static_cast<index_t>(user_of.size()); }
  index_t n_items() const noexcept { return static_cast<index_t>(item_of.size()); }
  std::uint64_t nnz() const noexcept { return by_user.nnz(); }

  /// Builds both indexes in O(ratings + users + items). Every rating's user must be
  /// below `table_users` and its item below `table_items` (the caller checks).
  static rating_blocks build(std::span<const rating> rs, index_t table_users,
                             index_t table_items);
};

}  // namespace recflow
