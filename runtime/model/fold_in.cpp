#include "recflow/model/fold_in.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Dense>

#include "recflow/model/cold_start.hpp"
#include "recflow/model/top_n.hpp"

namespace recflow {

result<void> validate(const fold_in_params& p) {
  auto check = [](double v, const char* name) -> result<void> {
    if (!std::isfinite(v) || v < 0)
      return error{errc::invalid_argument,
                   std::string(name) + " must be finite and non-negative, got " + std::to_string(v)};
    return {};
  };
  if (auto ok = check(p.lambda, "fold-in lambda"); !ok)
    return ok;
  if (auto ok = check(p.lambda_bias, "fold-in lambda-bias"); !ok)
    return ok;
  return check(p.lambda_exponent, "fold-in lambda-exponent");
}

result<folded_user> fold_in(const factor_model& m, std::span<const item_rating> ratings,
                            const fold_in_params& p) {
  const int k = m.rank();
  folded_user out;
  out.factors.assign(std::size_t(k), 0.0f);
  // z = [1, P_i], target r - mu - b_i: normal equations of the augmented vector [b, x].
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(k + 1, k + 1);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(k + 1);
  Eigen::VectorXd z(k + 1);
  for (const auto& r : ratings) {
    if (!std::isfinite(r.value))
      return error{errc::invalid_value, "rating of item " + std::to_string(r.item) + " is not finite"};
    auto i = m.items().find(r.item);
    if (i == id_map::npos)
      continue;
    out.rated.push_back(i);
    if (!m.item_known(i))
      continue;
    z[0] = 1.0;
    z.tail(k) = m.P().row(i).cast<double>();
    A.selfadjointView<Eigen::Lower>().rankUpdate(z);
    rhs += (r.value - m.mu() - m.item_bias()[i]) * z;
    ++out.used;
  }
  std::sort(out.rated.begin(), out.rated.end());
  out.rated.erase(std::unique(out.rated.begin(), out.rated.end()), out.rated.end());
  if (out.used == 0)
    return out;
  double scale = std::pow(static_cast<double>(out.used), p.lambda_exponent);
  A(0, 0) += p.lambda_bias * scale + 1e-12;
  for (int d = 1; d <= k; ++d)
    A(d, d) += p.lambda * scale + 1e-12;
  Eigen::VectorXd w = A.selfadjointView<Eigen::Lower>().ldlt().solve(rhs);
  if (!w.allFinite())
    return error{errc::invalid_value, "fold-in solve did not converge"};
  out.bias = w[0];
  for (int d = 0; d < k; ++d)
    out.factors[std::size_t(d)] = static_cast<float>(w[d + 1]);
  return out;
}

result<folded_user> fold_in_events(const factor_model& m, std::span<const item_rating> events,
                                   const implicit_als_solver& prepared) {
  const auto& p = prepared.params();
  folded_user out;
  out.factors.assign(std::size_t(m.rank()), 0.0f);
  // Repeated events add up; events on items the model has no row for only count as seen.
  std::vector<std::pair<index_t, double>> known;
  for (const auto& e : events) {
    if (!std::isfinite(e.value) || e.value <= 0.0)
      return error{errc::invalid_value, "event weight of item " + std::to_string(e.item)
                                          + " must be positive and finite, got "
                                          + std::to_string(e.value)};
    auto i = m.items().find(e.item);
    if (i == id_map::npos)
      continue;
    out.rated.push_back(i);
    if (m.item_known(i))
      known.emplace_back(i, e.value);
  }
  std::sort(out.rated.begin(), out.rated.end());
  out.rated.erase(std::unique(out.rated.begin(), out.rated.end()), out.rated.end());
  std::sort(known.begin(), known.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<index_t> items;
  std::vector<float> weights;
  // A posted event has no time: each counts as one of the user's latest (recency factor
  // 1 + boost), as events without timestamps do in training.
  const double recency = 1.0 + p.recency_boost;
  for (std::size_t j = 0; j < known.size();) {
    double w = 0.0;
    const auto i = known[j].first;
    for (; j < known.size() && known[j].first == i; ++j)
      w += known[j].second;
    const double weighted = w * recency;
    if (!(weighted <= double(std::numeric_limits<float>::max())))
      return error{errc::invalid_value, "event weight of item "
                                          + std::to_string(m.items().external(i))
                                          + " is too large"};
    items.push_back(i);
    weights.push_back(float(weighted));
  }
  out.used = items.size();
  if (items.empty())
    return out;
  auto solver = prepared;  // its Gram matrix; scratch of this call's own
  solver.solve(items, weights, m.P(), out.factors);
  return out;
}

double predict_folded(const factor_model& m, const folded_user& u, std::int64_t item) noexcept {
  auto i = m.items().find(item);
  bool item_known = i != id_map::npos && m.item_known(i);
  if (u.used == 0)
    return m.scale().clamp(item_known ? m.mu() + m.item_bias()[i] : m.mu());
  if (!item_known)
    return m.scale().clamp(m.mu() + u.bias);
  Eigen::Map<const Eigen::VectorXf> x(u.factors.data(), m.rank());
  return m.scale().clamp(m.mu() + u.bias + m.item_bias()[i]
                         + x.cast<double>().dot(m.P().row(i).cast<double>()));
}

std::vector<scored_item> recommend_folded(const factor_model& m, const folded_user& u,
                                          const recommend_options& opts) {
  std::span<const index_t> excluded;
  if (opts.exclude_rated)
    excluded = u.rated;
  if (u.used == 0)
    return cold_start_items(m, opts, excluded);
  return scan_top_n(m, u.factors, m.mu() + u.bias, excluded, opts.n, opts.candidates, opts.scan);
}

}  // namespace recflow
