#include "model/similar.hpp"

#include <cmath>

#include "model/top_n.hpp"

namespace recflow {

std::vector<scored_item> similar_items(const factor_model& m, index_t i, std::size_t n) {
  std::vector<scored_item> all;
  if (!m.item_known(i) || n == 0)
    return all;
  const auto& P = m.P();
  auto pi = P.row(i);
  double ni = pi.norm();
  if (!(ni > 0.0) || !std::isfinite(ni))
    return all;
  all.reserve(m.n_items());
  for (index_t j = 0; j < m.n_items(); ++j) {
    if (j == i || !m.item_known(j))
      continue;
    auto pj = P.row(j);
    double nj = pj.norm();
    if (!(nj > 0.0))
      continue;
    all.push_back({j, m.items().external(j), pi.dot(pj) / (ni * nj)});
  }
  keep_top_n(all, n);
  return all;
}

}  // namespace recflow
