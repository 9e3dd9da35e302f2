/// The best `n` of a list of scored items (highest score first, ties by lower index).
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "model/recommend.hpp"

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

/// Top-N by mu-free score `base + b_i + x . P_i` over the known items of `m` (or the
/// candidates), leaving out `excluded` (sorted dense indices): one matrix-vector product
/// over the whole item table, then a bounded heap, so a query costs O(items * rank) flops
/// and O(items) comparisons, without allocating per item. Same order as recommend()
/// (score, then lower index); scores may differ from raw_predict in the last bits.
std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const double> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates = {});

}  // namespace recflow
