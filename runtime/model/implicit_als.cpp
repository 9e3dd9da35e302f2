#include "recflow/model/implicit_als.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "recflow/model/als_solver.hpp"
#include "recflow/model/dense_kernels.hpp"
#include "recflow/model/exact_gram.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

bool non_negative_finite(double v) noexcept { return std::isfinite(v) && v >= 0.0; }

/// `steps` steps of conjugate gradient on A z = b from z, whose residual b - A z is in r;
/// apply(d, Ad) sets Ad = A d. d and Ad are scratch.
template <class ApplyA>
void conjugate_gradient(int steps, Eigen::VectorXd& z, Eigen::VectorXd& r, Eigen::VectorXd& d,
                        Eigen::VectorXd& Ad, ApplyA&& apply) {
  d = r;
  double rs = r.squaredNorm();
  for (int step = 0; step < steps && rs > 1e-20; ++step) {
    apply(d, Ad);
    const double dAd = d.dot(Ad);
    if (!(dAd > 0.0))
      break;
    const double a = rs / dAd;
    z += a * d;
    r -= a * Ad;
    const double rs_next = r.squaredNorm();
    d = r + (rs_next / rs) * d;
    rs = rs_next;
  }
}

}  // namespace

result<void> validate(const implicit_params& p) {
  if (auto ok = validate(als_common_params{p.rank, p.iterations, p.lambda, p.lambda_exponent,
                                           p.init_stddev});
      !ok)
    return ok;
  if (!non_negative_finite(p.alpha))
    return invalid("alpha must be non-negative and finite, got " + shown_parameter(p.alpha));
  if (!(std::isfinite(p.epsilon) && p.epsilon > 0.0))
    return invalid("epsilon must be positive and finite, got " + shown_parameter(p.epsilon));
  if (p.confidence != confidence_form::linear && p.confidence != confidence_form::log)
    return invalid("confidence must be linear or log");
  if (p.solver != implicit_solver::cholesky && p.solver != implicit_solver::cg)
    return invalid("solver must be cholesky or cg");
  if (p.cg_steps <= 0)
    return invalid("cg steps must be positive, got " + std::to_string(p.cg_steps));
  if (p.weighting != event_weighting::none && p.weighting != event_weighting::bm25
      && p.weighting != event_weighting::tfidf)
    return invalid("weighting must be none, bm25 or tfidf");
  if (!non_negative_finite(p.bm25_k1))
    return invalid("bm25 k1 must be non-negative and finite, got " + shown_parameter(p.bm25_k1));
  if (!(p.bm25_b >= 0.0 && p.bm25_b <= 1.0))
    return invalid("bm25 b must be in 0..1, got " + shown_parameter(p.bm25_b));
  if (!non_negative_finite(p.missing_exponent))
    return invalid("missing exponent must be non-negative and finite, got "
                   + shown_parameter(p.missing_exponent));
  if (!non_negative_finite(p.recency_boost))
    return invalid("recency boost must be non-negative and finite, got " + shown_parameter(p.recency_boost));
  if (!(std::isfinite(p.recency_half_life) && p.recency_half_life > 0.0))
    return invalid("recency half-life must be positive and finite, got "
                   + shown_parameter(p.recency_half_life));
  return {};
}

double regularisation(const implicit_params& p, std::size_t n) noexcept {
  return p.lambda_exponent == 0.0 ? p.lambda : p.lambda * std::pow(double(n), p.lambda_exponent);
}

double confidence(const implicit_params& p, double w) noexcept {
  return p.confidence == confidence_form::linear ? 1.0 + p.alpha * w
                                                 : 1.0 + p.alpha * std::log1p(w / p.epsilon);
}

implicit_als_solver::implicit_als_solver(const implicit_params& p) : p_(p) {
  const auto k = Eigen::Index(p.rank);
  gram_ = Eigen::MatrixXd::Zero(k, k);
  A_.resize(k, k);
  for (auto* v : {&b_, &z_, &r_, &d_, &Ad_})
    v->resize(k);
}

void implicit_als_solver::prepare(const factor_table& other, std::span<const double> missing) {
  missing_.assign(missing.begin(), missing.end());
  if (missing_.empty()) {
    exact_gram g(p_.rank);
    g.add(other);
    gram_ = g.to_matrix();
    return;
  }
  const auto k = Eigen::Index(p_.rank);
  const auto rows = Eigen::Index(other.rows());
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>> Y(
      other.data().data(), k, rows);  // column r is row r of the table
  gram_.setZero();
  Eigen::Map<const Eigen::VectorXd> m(missing_.data(), rows);
  Eigen::MatrixXd Yd = Y.cast<double>() * m.cwiseSqrt().asDiagonal();
  detail::gram_lower(Yd.data(), std::size_t(k), std::size_t(k), std::size_t(rows), nullptr,
                     gram_.data(), std::size_t(k), nullptr);
  gram_.triangularView<Eigen::StrictlyUpper>() = gram_.transpose();
}

void implicit_als_solver::solve(std::span<const index_t> others, std::span<const float> weights,
                                const factor_table& other, std::span<float> x,
                                double self_missing) {
  const auto n = Eigen::Index(others.size());
  if (n == 0)
    return;
  const auto k = Eigen::Index(p_.rank);
  if (Yt_.cols() < n) {
    Yt_.resize(k, n);
    c_.resize(n);
    s_.resize(n);
    m_.resize(n);
  }
  auto Y = Yt_.leftCols(n);
  auto c = c_.head(n);
  auto m = m_.head(n);  // the missing weight each event replaces
  for (Eigen::Index j = 0; j < n; ++j) {
    Y.col(j) = other.row(others[j]).cast<double>();
    c[j] = confidence(p_, double(weights[j]));
    m[j] = missing_.empty() ? self_missing : missing_[others[j]];
  }
  const double reg = regularisation(p_, others.size());
  Eigen::Map<Eigen::VectorXf> xv(x.data(), k);
  const bool weighted = !missing_.empty() || self_missing != 1.0;

  if (weighted) {
    // A = s Y^T M Y + reg I + sum (c - m) y y^T, b = sum c y: the events' corrections
    // may be negative (a popular item's missing weight above c), so A is summed in full.
    b_.noalias() = Y * c;
    A_ = self_missing * gram_;
    A_.diagonal().array() += reg;
    A_.noalias() += Y * (c - m).asDiagonal() * Y.transpose();
    if (p_.solver == implicit_solver::cholesky) {
      solve_normal_equations(A_, b_, work_, z_);
      xv = z_.cast<float>();
      return;
    }
    z_ = xv.cast<double>();
    r_.noalias() = b_ - A_ * z_;
    conjugate_gradient(p_.cg_steps, z_, r_, d_, Ad_,
                       [&](const Eigen::VectorXd& d, Eigen::VectorXd& Ad) { Ad.noalias() = A_ * d; });
    xv = z_.cast<float>();
    return;
  }

  if (p_.solver == implicit_solver::cholesky) {
    // A = Y^T Y + reg I + sum (c - 1) y y^T (lower triangle), b = sum c y.
    b_.noalias() = Y * c;
    for (Eigen::Index j = 0; j < n; ++j)  // then each column becomes sqrt(c - 1) y
      Y.col(j) *= std::sqrt(c[j] - 1.0);
    // A = Y^T Y + reg I + (the events' corrections, summed by the Gram kernel).
    detail::gram_lower(Y.data(), std::size_t(Yt_.outerStride()), std::size_t(k), std::size_t(n),
                       nullptr, A_.data(), std::size_t(k), nullptr);
    for (Eigen::Index b = 0; b < k; ++b)
      for (Eigen::Index a = b; a < k; ++a)
        A_(a, b) += gram_(a, b) + (a == b ? reg : 0.0);
    solve_normal_equations(A_, b_, work_, z_);
    xv = z_.cast<float>();
    return;
  }

  // Conjugate gradient on the same system from the current x (the `implicit` library's
  // least_squares_cg): r = b - A x, then cg_steps steps along A-conjugate directions.
  auto s = s_.head(n);
  z_ = xv.cast<double>();
  s.noalias() = Y.transpose() * z_;  // y . x per event
  r_.noalias() = -(gram_ * z_) - reg * z_;
  r_.noalias() += Y * (c.array() - (c.array() - 1.0) * s.array()).matrix();
  conjugate_gradient(p_.cg_steps, z_, r_, d_, Ad_, [&](const Eigen::VectorXd& d, Eigen::VectorXd& Ad) {
    s.noalias() = Y.transpose() * d;
    Ad.noalias() = gram_ * d + reg * d;
    Ad.noalias() += Y * ((c.array() - 1.0) * s.array()).matrix();
  });
  xv = z_.cast<float>();
}

void implicit_half_sweep(const rating_csr& rows, const factor_table& other, factor_table& self,
                         implicit_als_solver& solver, std::span<const double> other_missing,
                         std::span<const double> self_missing) {
  solver.prepare(other, other_missing);
  for (index_t e = 0; e < rows.rows(); ++e)
    solver.solve(rows.cols_of(e), rows.values_of(e), other, self.row_span(e),
                 self_missing.empty() ? 1.0 : self_missing[e]);
}

void apply_event_weighting(rating_blocks& blocks, const implicit_params& p) {
  if (p.weighting == event_weighting::none)
    return;
  const index_t nu = blocks.n_users(), ni = blocks.n_items();
  // Items are the documents, users the terms: idf_u = log(N_items) - log1p(n_u), and
  // BM25's length of item i is its summed weight.
  std::vector<double> idf(nu), length(ni, 0.0);
  for (index_t u = 0; u < nu; ++u)
    idf[u] = std::max(0.0, std::log(double(ni)) - std::log1p(double(blocks.by_user.count(u))));
  double mean_length = 0.0;
  for (index_t i = 0; i < ni; ++i) {
    for (float w : blocks.by_item.values_of(i))
      length[i] += double(w);
    mean_length += length[i];
  }
  mean_length = ni > 0 ? mean_length / double(ni) : 1.0;
  auto weight = [&](index_t u, index_t i, double w) {
    if (p.weighting == event_weighting::tfidf)
      return std::sqrt(w) * idf[u];
    const double norm = (1.0 - p.bm25_b) + p.bm25_b * length[i] / mean_length;
    return w * (p.bm25_k1 + 1.0) / (p.bm25_k1 * norm + w) * idf[u];
  };
  auto& bu = blocks.by_user;
  for (index_t u = 0; u < nu; ++u)
    for (auto j = bu.offsets[u]; j < bu.offsets[u + 1]; ++j)
      bu.values[j] = float(weight(u, bu.cols[j], double(bu.values[j])));
  auto& bi = blocks.by_item;
  for (index_t i = 0; i < ni; ++i)
    for (auto j = bi.offsets[i]; j < bi.offsets[i + 1]; ++j)
      bi.values[j] = float(weight(bi.cols[j], i, double(bi.values[j])));
}

double recency_factor(const implicit_params& p, std::size_t later) noexcept {
  return 1.0 + p.recency_boost * std::exp2(-double(later) / p.recency_half_life);
}

void apply_recency(std::span<rating> events, const implicit_params& p) {
  if (p.recency_boost == 0.0)
    return;
  std::vector<std::size_t> order(events.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = events[a];
    const auto& y = events[b];
    return x.user != y.user ? x.user < y.user : x.timestamp > y.timestamp;  // latest first
  });
  std::size_t first = 0;  // where the current user's events start in `order`
  std::size_t later = 0;  // how many of the user's events are strictly later than this one
  for (std::size_t j = 0; j < order.size(); ++j) {
    const auto& e = events[order[j]];
    if (j == 0 || events[order[j - 1]].user != e.user)
      first = j, later = 0;
    else if (events[order[j - 1]].timestamp != e.timestamp)
      later = j - first;
    events[order[j]].value = float(double(e.value) * recency_factor(p, later));
  }
}

std::vector<double> missing_weights(const rating_blocks& blocks, const implicit_params& p) {
  std::vector<std::uint32_t> counts(blocks.n_items());
  for (index_t i = 0; i < blocks.n_items(); ++i)
    counts[i] = blocks.by_item.count(i);
  return missing_weights(counts, p.missing_exponent);
}

std::vector<double> missing_weights(std::span<const std::uint32_t> counts, double exponent) {
  std::vector<double> m(counts.size(), 1.0);
  if (exponent == 0.0 || counts.empty())
    return m;
  double total = 0.0;
  for (std::size_t i = 0; i < counts.size(); ++i)
    total += m[i] = std::pow(double(counts[i]), exponent);
  if (!(total > 0.0))
    return std::vector<double>(counts.size(), 1.0);
  for (auto& v : m)
    v *= double(counts.size()) / total;
  return m;
}

double implicit_objective(const factor_model& m, const rating_blocks& blocks,
                          const implicit_params& p) {
  implicit_als_solver items(p);
  const auto missing = missing_weights(blocks, p);
  items.prepare(m.P(), p.missing_exponent == 0.0 ? std::span<const double>{} : missing);
  const auto& G = items.gram();
  double total = 0.0;
  // Every pair without an event contributes m_i (x . y)^2 (c = m_i, p = 0): x^T (Y^T M Y) x
  // over all items, corrected on the user's events to c (1 - x . y)^2.
  for (index_t u = 0; u < blocks.n_users(); ++u) {
    const Eigen::VectorXd x = m.U().row(u).cast<double>();
    total += x.dot(G * x);
    auto cols = blocks.by_user.cols_of(u);
    auto weights = blocks.by_user.values_of(u);
    for (std::size_t j = 0; j < cols.size(); ++j) {
      const double s = x.dot(m.P().row(cols[j]).cast<double>());
      total += confidence(p, double(weights[j])) * (1.0 - s) * (1.0 - s)
               - missing[cols[j]] * s * s;
    }
    total += regularisation(p, cols.size()) * x.squaredNorm();
  }
  for (index_t i = 0; i < blocks.n_items(); ++i)
    total += regularisation(p, blocks.by_item.count(i))
             * m.P().row(i).cast<double>().squaredNorm();
  return total;
}

result<implicit_training_set> implicit_training(const rating_table& events,
                                                const implicit_params& p) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  std::vector<rating> rs(events.ratings.begin(), events.ratings.end());
  apply_recency(rs, p);
  const auto weighted_events = events.with_ratings(std::move(rs));
  auto blocks = als_training_blocks(weighted_events, "event");
  if (!blocks)
    return blocks.err();
  for (float w : blocks->by_user.values)
    if (!(w > 0.0f && std::isfinite(w)))
      return invalid("event weights must be positive and finite, got " + std::to_string(w));
  apply_event_weighting(*blocks, p);
  // Seeded factors as explicit ALS starts from; no mean, no biases, preferences 0..1.
  als_params start;
  start.rank = p.rank;
  start.seed = p.seed;
  start.init_stddev = p.init_stddev;
  const rating_table ids{{}, events.users, events.items, rating_scale{0.0, 1.0}};
  auto initial = als_initial_model(ids, *blocks, start);
  return implicit_training_set{std::move(*blocks), std::move(initial)};
}

result<factor_model> train_implicit_als(const rating_table& events, const implicit_params& p,
                                        const als_progress& progress) {
  auto set = implicit_training(events, p);
  if (!set)
    return set.err();
  const auto missing = missing_weights(set->blocks, p);
  const bool uniform = p.missing_exponent == 0.0;
  implicit_als_solver solver(p);
  return run_als_sweeps(
      set->blocks, std::move(set->initial), p.iterations,
      [&](const rating_blocks& b, factor_model& m) {
        implicit_half_sweep(b.by_user, m.P(), m.U(), solver,
                            uniform ? std::span<const double>{} : missing);
        implicit_half_sweep(b.by_item, m.U(), m.P(), solver, {},
                            uniform ? std::span<const double>{} : missing);
      },
      [&](const rating_blocks& b, const factor_model& m) { return implicit_objective(m, b, p); },
      progress);
}

}  // namespace recflow
