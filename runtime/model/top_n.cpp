#include "recflow/model/top_n.hpp"

#include "recflow/model/top_n_scan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Core>

namespace recflow {

namespace {

/// The item factors of `m` as an items x rank matrix (row-major, as stored).
using float_table = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
Eigen::Map<const float_table> item_table(const factor_model& m) {
  return {m.P().data().data(), std::ptrdiff_t(m.n_items()), std::ptrdiff_t(m.rank())};
}

/// x . P_i in double (products of floats are exact in double).
double dot_double(std::span<const float> x, const factor_model& m, index_t i) {
  Eigen::Map<const Eigen::VectorXf> xv(x.data(), std::ptrdiff_t(x.size()));
  return xv.cast<double>().dot(m.P().row(i).cast<double>());
}

}  // namespace

item_scan_table item_scan_table::build(const factor_model& m) {
  item_scan_table t;
  t.items = m.n_items();
  t.rank = m.rank();
  t.bias.resize(std::size_t(t.items));
  t.norm.resize(std::size_t(t.items));
  for (index_t i = 0; i < t.items; ++i) {
    t.norm[i] = m.P().row(i).cast<double>().norm();
    t.max_norm = std::max(t.max_norm, t.norm[i]);
    t.bias[i] = m.item_known(i) ? m.item_bias()[i] : -std::numeric_limits<double>::infinity();
  }
  return t;
}

namespace {

/// The rounding bound of a float dot product of x with any item row (inputs rounded to
/// float, rank products and sums in any order; 2^-23 is twice float's unit roundoff),
/// with a floor for underflow.
double float_bound(const item_scan_table& fast, std::span<const float> x) {
  Eigen::Map<const Eigen::VectorXf> xv(x.data(), std::ptrdiff_t(x.size()));
  return double(fast.rank + 4) * 0x1p-23 * xv.cast<double>().norm() * fast.max_norm + 1e-30;
}

/// The top n from float scores `dots` (item i: float(P_i) . float(x), computed in any
/// order): every item whose float score is within 2 * bound of the n-th best float score
/// is a candidate (the cut only rises, so what passed it while scanning is a superset),
/// and double decides among them.
std::vector<scored_item> pick_from_float(const factor_model& m, std::span<const float> x,
                                         double base, std::span<const index_t> excluded,
                                         std::size_t n, const item_scan_table& fast,
                                         const float* dots, double bound) {
  thread_local std::vector<std::pair<index_t, double>> picked;
  picked.clear();
  detail::bounded_heap rough(n), best(n);
  const double* fb = fast.bias.data();
  detail::scan_items(m.n_items(), excluded, rough, 2.0 * bound,
                     [&](index_t i) { return fb[i] + double(dots[i]); },
                     [&](index_t i, double s) { picked.emplace_back(i, s); });
  double cut = rough.full() ? rough.worst() - 2.0 * bound : std::numeric_limits<double>::lowest();
  const auto& bias = m.item_bias();
  for (auto [i, s] : picked)
    if (s >= cut)
      best.offer(i, base + bias[i] + dot_double(x, m, i));
  return std::move(best).sorted(m);
}

}  // namespace

std::vector<std::vector<scored_item>> scan_top_n_many(const factor_model& m,
                                                      std::span<const top_n_query> queries,
                                                      std::size_t n, const item_scan_table& fast) {
  std::vector<std::vector<scored_item>> out(queries.size());
  if (n == 0)
    return out;
  if (!fast.fits(m) || m.n_items() == 0) {
    for (std::size_t q = 0; q < queries.size(); ++q)
      out[q] = scan_top_n(m, queries[q].x, queries[q].base, queries[q].excluded, n);
    return out;
  }
  // Blocks of queries: one single-precision matrix product reads the item table once for
  // the whole block (a query at a time reads it once per query).
  constexpr std::size_t block = 64;
  const auto rank = std::ptrdiff_t(fast.rank);
  auto P = item_table(m);
  Eigen::MatrixXf X(rank, std::ptrdiff_t(block));
  Eigen::MatrixXf dots;
  for (std::size_t at = 0; at < queries.size(); at += block) {
    auto size = std::min(block, queries.size() - at);
    for (std::size_t q = 0; q < size; ++q)
      for (std::ptrdiff_t j = 0; j < rank; ++j)
        X(j, std::ptrdiff_t(q)) = queries[at + q].x[std::size_t(j)];
    dots.noalias() = P * X.leftCols(std::ptrdiff_t(size));
    for (std::size_t q = 0; q < size; ++q) {
      const auto& query = queries[at + q];
      auto bound = float_bound(fast, query.x);
      out[at + q] = bound < 1e20 ? pick_from_float(m, query.x, query.base, query.excluded, n, fast,
                                                   dots.col(std::ptrdiff_t(q)).data(), bound)
                                 : scan_top_n(m, query.x, query.base, query.excluded, n);
    }
  }
  return out;
}

std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const float> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates, const item_scan_table* fast) {
  if (n == 0)
    return {};
  detail::bounded_heap best(n);
  const auto& bias = m.item_bias();
  if (!candidates.empty()) {
    for_each_candidate(m, candidates, [&](index_t i) {
      if (m.item_known(i) && !std::binary_search(excluded.begin(), excluded.end(), i))
        best.offer(i, base + bias[i] + dot_double(x, m, i));
    });
    return std::move(best).sorted(m);
  }
  // The rounding bound of a float dot product (inputs rounded to float, rank products and
  // sums; 2^-23 is twice float's unit roundoff), with a floor for underflow. Far from
  // float's range (a model no sane training makes), the double scan is used instead.
  double bound = fast ? float_bound(*fast, x) : 0.0;
  if (fast && fast->fits(m) && m.n_items() > 0 && bound < 1e20) {
    Eigen::Map<const Eigen::VectorXf> xv(x.data(), m.rank());
    thread_local Eigen::VectorXf dots;
    dots.noalias() = item_table(m) * xv;
    return pick_from_float(m, x, base, excluded, n, *fast, dots.data(), bound);
  }
  const auto& known = m.item_count();
  detail::scan_items(m.n_items(), excluded, best, 0.0,
             [&](index_t i) { return known[i] == 0 ? -std::numeric_limits<double>::infinity() : base + bias[i] + dot_double(x, m, i); },
             [](index_t, double) {});
  return std::move(best).sorted(m);
}

}  // namespace recflow
