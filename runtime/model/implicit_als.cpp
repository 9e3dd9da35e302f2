#include "recflow/model/implicit_als.hpp"

#include <cmath>
#include <string>

#include "recflow/model/als_solver.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

bool non_negative_finite(double v) noexcept { return std::isfinite(v) && v >= 0.0; }

double regularisation(const implicit_params& p, std::size_t n) noexcept {
  return p.lambda_exponent == 0.0 ? p.lambda : p.lambda * std::pow(double(n), p.lambda_exponent);
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
  return {};
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
  llt_.compute(Eigen::MatrixXd::Identity(1, 1));  // see als_solver: no indeterminate status
}

void implicit_als_solver::prepare(const factor_table& other) {
  const auto k = Eigen::Index(p_.rank);
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>> Y(
      other.data().data(), k, Eigen::Index(other.rows()));  // column r is row r of the table
  gram_.setZero();
  gram_.selfadjointView<Eigen::Lower>().rankUpdate(Y.cast<double>());
  gram_.triangularView<Eigen::StrictlyUpper>() = gram_.transpose();
}

void implicit_als_solver::solve(std::span<const index_t> others, std::span<const float> weights,
                                const factor_table& other, std::span<float> x) {
  const auto n = Eigen::Index(others.size());
  if (n == 0)
    return;
  const auto k = Eigen::Index(p_.rank);
  const double reg = regularisation(p_, others.size());
  if (Yt_.cols() < n) {
    Yt_.resize(k, n);
    c_.resize(n);
    s_.resize(n);
  }
  auto Y = Yt_.leftCols(n);
  auto c = c_.head(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    Y.col(j) = other.row(others[j]).cast<double>();
    c[j] = confidence(p_, double(weights[j]));
  }
  Eigen::Map<Eigen::VectorXf> xv(x.data(), k);

  if (p_.solver == implicit_solver::cholesky) {
    // A = Y^T Y + reg I + sum (c - 1) y y^T (lower triangle), b = sum c y.
    b_.noalias() = Y * c;
    for (Eigen::Index j = 0; j < n; ++j)  // then each column becomes sqrt(c - 1) y
      Y.col(j) *= std::sqrt(c[j] - 1.0);
    A_ = gram_;
    A_.diagonal().array() += reg;
    A_.selfadjointView<Eigen::Lower>().rankUpdate(Y);
    solve_normal_equations(A_, b_, llt_, z_);
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
  d_ = r_;
  double rs = r_.squaredNorm();
  for (int step = 0; step < p_.cg_steps && rs > 1e-20; ++step) {
    s.noalias() = Y.transpose() * d_;
    Ad_.noalias() = gram_ * d_ + reg * d_;
    Ad_.noalias() += Y * ((c.array() - 1.0) * s.array()).matrix();
    const double dAd = d_.dot(Ad_);
    if (!(dAd > 0.0))
      break;
    const double a = rs / dAd;
    z_ += a * d_;
    r_ -= a * Ad_;
    const double rs_next = r_.squaredNorm();
    d_ = r_ + (rs_next / rs) * d_;
    rs = rs_next;
  }
  xv = z_.cast<float>();
}

void implicit_half_sweep(const rating_csr& rows, const factor_table& other, factor_table& self,
                         implicit_als_solver& solver) {
  solver.prepare(other);
  for (index_t e = 0; e < rows.rows(); ++e)
    solver.solve(rows.cols_of(e), rows.values_of(e), other, self.row_span(e));
}

double implicit_objective(const factor_model& m, const rating_blocks& blocks,
                          const implicit_params& p) {
  implicit_als_solver items(p);
  items.prepare(m.P());
  const auto& G = items.gram();
  double total = 0.0;
  // Every pair without an event contributes (x . y)^2 (c = 1, p = 0): x^T (Y^T Y) x over
  // all items, corrected on the user's events to c (1 - x . y)^2.
  for (index_t u = 0; u < blocks.n_users(); ++u) {
    const Eigen::VectorXd x = m.U().row(u).cast<double>();
    total += x.dot(G * x);
    auto cols = blocks.by_user.cols_of(u);
    auto weights = blocks.by_user.values_of(u);
    for (std::size_t j = 0; j < cols.size(); ++j) {
      const double s = x.dot(m.P().row(cols[j]).cast<double>());
      total += confidence(p, double(weights[j])) * (1.0 - s) * (1.0 - s) - s * s;
    }
    total += regularisation(p, cols.size()) * x.squaredNorm();
  }
  for (index_t i = 0; i < blocks.n_items(); ++i)
    total += regularisation(p, blocks.by_item.count(i))
             * m.P().row(i).cast<double>().squaredNorm();
  return total;
}

result<factor_model> train_implicit_als(const rating_table& events, const implicit_params& p,
                                        const als_progress& progress) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  auto blocks = als_training_blocks(events, "event");
  if (!blocks)
    return blocks.err();
  for (float w : blocks->by_user.values)
    if (!(w > 0.0f && std::isfinite(w)))
      return invalid("event weights must be positive and finite, got " + std::to_string(w));
  // Seeded factors as explicit ALS starts from; no mean, no biases, preferences 0..1.
  als_params start;
  start.rank = p.rank;
  start.seed = p.seed;
  start.init_stddev = p.init_stddev;
  const rating_table ids{{}, events.users, events.items, rating_scale{0.0, 1.0}};
  implicit_als_solver solver(p);
  return run_als_sweeps(
      *blocks, als_initial_model(ids, *blocks, start), p.iterations,
      [&](const rating_blocks& b, factor_model& m) {
        implicit_half_sweep(b.by_user, m.P(), m.U(), solver);
        implicit_half_sweep(b.by_item, m.U(), m.P(), solver);
      },
      [&](const rating_blocks& b, const factor_model& m) { return implicit_objective(m, b, p); },
      progress);
}

}  // namespace recflow
