#include "recflow/model/cold_start.hpp"

#include <algorithm>
#include <cmath>

#include "recflow/model/top_n.hpp"

namespace recflow {

double cold_start_score(const factor_model& m, index_t i, const cold_start_options& c) noexcept {
  double n = m.item_count()[i];
  double shrunk = c.shrink > 0 ? m.item_bias()[i] * n / (n + c.shrink) : m.item_bias()[i];
  return m.mu() + shrunk + c.popularity * std::log1p(n);
}

std::vector<scored_item> cold_start_items(const factor_model& m, const recommend_options& opts,
                                          std::span<const index_t> excluded,
                                          const cold_start_options& c) {
  std::vector<scored_item> all;
  if (opts.candidates.empty())
    all.reserve(m.n_items());
  for_each_candidate(m, opts.candidates, [&](index_t i) {
    if (!m.item_known(i) || std::binary_search(excluded.begin(), excluded.end(), i))
      return;
    all.push_back({i, m.items().external(i), cold_start_score(m, i, c)});
  });
  keep_top_n(all, opts.n);
  return all;
}

}  // namespace recflow
