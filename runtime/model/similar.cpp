#include "recflow/model/similar.hpp"

#include <cmath>
#include <limits>

#include <Eigen/Core>

#include "recflow/model/top_n.hpp"
#include "recflow/model/top_n_scan.hpp"

namespace recflow {

std::vector<scored_item> similar_items(const factor_model& m, index_t i, std::size_t n,
                                       const item_scan_table* fast) {
  std::vector<scored_item> all;
  if (!m.item_known(i) || n == 0)
    return all;
  const auto& P = m.P();
  const Eigen::VectorXd pi = P.row(i).cast<double>();
  double ni = pi.norm();
  if (!(ni > 0.0) || !std::isfinite(ni))
    return all;
  auto cosine = [&](index_t j) {
    return pi.dot(P.row(j).cast<double>()) / (ni * P.row(j).cast<double>().norm());
  };
  // Float products within range: the bound below is relative to |P_i| |P_j|, so it holds
  // unless they underflow or overflow.
  if (fast && fast->fits(m) && ni * fast->max_norm > 1e-15 && ni * fast->max_norm < 1e20) {
    constexpr double none = -std::numeric_limits<double>::infinity();
    using float_table = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const float_table> Pf(P.data().data(), std::ptrdiff_t(m.n_items()), m.rank());
    thread_local Eigen::VectorXf dots;
    thread_local std::vector<std::pair<index_t, double>> picked;
    dots.noalias() = Pf * P.row(i);
    picked.clear();
    // The float cosine is off by at most (rank + 4) 2^-23 (inputs rounded, rank products
    // and sums, over |P_i| |P_j|); the margin covers the division.
    double slack = 2.0 * (double(fast->rank + 4) * 0x1p-23 + 1e-12);
    detail::bounded_heap rough(n), best(n);
    detail::scan_items(
      m.n_items(), {}, rough, slack,
      [&](index_t j) {
        double nj = fast->norm[j];
        return j == i || fast->bias[j] == none || !(nj > 0.0) ? none : double(dots[j]) / (ni * nj);
      },
      [&](index_t j, double c) { picked.emplace_back(j, c); });
    double cut = rough.full() ? rough.worst() - slack : std::numeric_limits<double>::lowest();
    for (auto [j, c] : picked)
      if (c >= cut)
        best.offer(j, cosine(j));
    return std::move(best).sorted(m);
  }
  all.reserve(m.n_items());
  for (index_t j = 0; j < m.n_items(); ++j) {
    if (j == i || !m.item_known(j))
      continue;
    if (!(P.row(j).cast<double>().norm() > 0.0))
      continue;
    all.push_back({j, m.items().external(j), cosine(j)});
  }
  keep_top_n(all, n);
  return all;
}

}  // namespace recflow
