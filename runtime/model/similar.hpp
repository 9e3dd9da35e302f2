/// Items similar to an item: cosine similarity of item factor vectors.
#pragma once

#include <vector>

#include "recflow/model/model.hpp"
#include "recflow/model/recommend.hpp"

namespace recflow {

/// The `n` known items whose factors P_j have the highest cosine similarity
///   P_i . P_j / (|P_i| |P_j|)
/// to the factors of dense item `i`, best first (ties by lower index), `i` itself left
/// out; `score` is the cosine, in [-1, 1]. Biases play no part: two items are similar
/// when the same users like them, whatever their average rating. Items whose factors
/// are all zero have no direction and are never listed; an unknown `i` (or one with zero
/// factors) gets an empty list.
///
/// With `fast` (the model's float scan table, top_n.hpp; ignored if it does not fit) the
/// cosines are first computed in single precision, and every item within twice their
/// rounding bound, 2 (rank + 4) 2^-23, of the n-th best is rescored in double: the same
/// list and scores as without it, at a fraction of the cost.
std::vector<scored_item> similar_items(const factor_model& m, index_t i, std::size_t n,
                                       const item_scan_table* fast = nullptr);

}  // namespace recflow
