/// The best `n` of a list of scored items (highest score first, ties by lower index).
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "recflow/model/parallel.hpp"
#include "recflow/model/recommend.hpp"

namespace recflow {

/// Keeps the best `n` of `all`, sorted best first (ties by lower dense index).
inline void keep_top_n(std::vector<scored_item>& all, std::size_t n) {
  auto better = [](const scored_item& a, const scored_item& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), better);
  all.resize(n);
}

/// Calls `f(i)` for each candidate dense item: every item of `m`, or the distinct
/// in-range indices of `candidates` when it is not empty.
template <class F>
void for_each_candidate(const factor_model& m, std::span<const index_t> candidates, F&& f) {
  if (candidates.empty()) {
    for (index_t i = 0; i < m.n_items(); ++i)
      f(i);
    return;
  }
  std::vector<index_t> unique(candidates.begin(), candidates.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  for (auto i : unique)
    if (i < m.n_items())
      f(i);
}

/// What a fast top-N scan needs beside a model's item factors (which it reads in place,
/// single precision as stored), built once per published model: the products then run
/// in float, twice the SIMD lanes of double. They only pick candidates: scan_top_n
/// rescores them in double (below), so the answers are the double scan's.
struct item_scan_table {
  index_t items = 0;
  int rank = 0;
  std::vector<double> bias; ///< b_i of known items; -inf for items the model has no rating of
  std::vector<double> norm; ///< |P_i| (Euclidean, in double)
  double max_norm = 0.0;    ///< largest |P_i| (Euclidean), for the rounding bound

  static item_scan_table build(const factor_model& m);
  /// Built from a model with the item table of `m` (same item count and rank).
  bool fits(const factor_model& m) const noexcept { return items == m.n_items() && rank == m.rank(); }
};

/// Top-N by mu-free score `base + b_i + x . P_i` over the known items of `m` (or the
/// candidates), leaving out `excluded` (sorted dense indices): one matrix-vector product
/// over the whole item table, then a bounded heap, so a query costs O(items * rank) flops
/// and O(items) comparisons, without allocating per item. Same order as recommend()
/// (score, then lower index); scores may differ from raw_predict in the last bits.
///
/// With `fast` (built from `m`; ignored if it does not fit), the product runs in single
/// precision to pick candidates: every item whose float score is within twice the
/// rounding bound, (rank + 4) 2^-23 |x| max|P_i|, of the n-th best float score. Those are
/// rescored in double, so the list and its scores are the double scan's: an item of the
/// true top n cannot score below that cut in float.
std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const float> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates = {},
                                    const item_scan_table* fast = nullptr);

/// One top-N query of scan_top_n_many: score `base + b_i + x . P_i`, leaving out
/// `excluded` (sorted dense indices).
struct top_n_query {
  std::span<const float> x;
  double base = 0.0;
  std::span<const index_t> excluded;
};

/// scan_top_n over every item for many queries at once (e.g. every user of an
/// evaluation): each block of queries costs one single-precision matrix product, which
/// reads the item table once for the block instead of once per query, then the same
/// candidate cut and double rescoring, so each list equals
/// scan_top_n(m, q.x, q.base, q.excluded, n, {}, &fast). The blocks are tasks for `run`
/// (empty: one after the other on this thread); the lists do not depend on it.
std::vector<std::vector<scored_item>> scan_top_n_many(const factor_model& m,
                                                      std::span<const top_n_query> queries,
                                                      std::size_t n, const item_scan_table& fast,
                                                      const task_runner& run = {});

}  // namespace recflow
