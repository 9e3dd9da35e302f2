#include "recflow/model/als_solver.hpp"

#include <cmath>
#include <string>

#include <Eigen/QR>

#include "recflow/model/dense_kernels.hpp"

namespace recflow {

rated_items als_rated_items(const rating_blocks& blocks) {
  std::vector<rating> compact;
  compact.reserve(blocks.nnz());
  for (index_t u = 0; u < blocks.n_users(); ++u)
    for (auto i : blocks.by_user.cols_of(u))
      compact.push_back({u, i, 0.0f, 0});
  return rated_items::build(compact, blocks.n_users());
}

factor_model als_initial_model(const rating_table& train, const rating_blocks& blocks,
                               const als_params& p) {
  factor_model m(p.rank, train.scale);
  m.set_mu(mean_rating(train.ratings), train.ratings.size());
  for (index_t u = 0; u < blocks.n_users(); ++u) {
    m.add_user(train.users.external(blocks.user_of[u]), p.seed, p.init_stddev);
    m.user_count()[u] = blocks.by_user.count(u);
  }
  for (index_t i = 0; i < blocks.n_items(); ++i) {
    m.add_item(train.items.external(blocks.item_of[i]), p.seed, p.init_stddev);
    m.item_count()[i] = blocks.by_item.count(i);
  }
  return m;
}

als_solver::als_solver(const als_params& p) : p_(p) {
  auto d = Eigen::Index(p.rank) + 1;
  A_.resize(d, d);
  rhs_.resize(d);
  z_.resize(d);
}

void als_solver::accumulate(Eigen::Index n, Eigen::Index d) {
  auto A = A_.topLeftCorner(d, d);
  auto rhs = rhs_.head(d);
  A.setZero();
  auto X = Xt_.topLeftCorner(d, n);
  auto y = y_.head(n);
  switch (p_.method) {
    case normal_equations::gathered:
      detail::gram_lower(X.data(), std::size_t(Xt_.outerStride()), std::size_t(d),
                         std::size_t(n), y.data(), A.data(), std::size_t(A_.outerStride()),
                         rhs.data());
      break;
    case normal_equations::rank_one:
      rhs.setZero();
      for (Eigen::Index j = 0; j < n; ++j) {
        A.selfadjointView<Eigen::Lower>().rankUpdate(X.col(j));
        rhs += y[j] * X.col(j);
      }
      break;
    case normal_equations::naive:
      rhs.setZero();
      for (Eigen::Index j = 0; j < n; ++j) {
        A.noalias() += X.col(j) * X.col(j).transpose();
        rhs += y[j] * X.col(j);
      }
      break;
  }
}

result<rating_blocks> als_training_blocks(const rating_table& train, const char* what) {
  if (train.ratings.empty())
    return error{errc::invalid_argument,
                 std::string("training set is empty: ALS needs at least one ") + what};
  if (auto ok = check_ratings(train); !ok)
    return ok.err();
  return rating_blocks::build(train.ratings, train.users.size(), train.items.size());
}

void solve_normal_equations(const Eigen::Ref<const Eigen::MatrixXd>& A,
                            const Eigen::Ref<const Eigen::VectorXd>& rhs,
                            std::vector<double>& work, Eigen::Ref<Eigen::VectorXd> z) {
  const auto d = std::size_t(A.rows());
  work.resize(detail::cholesky_work(d));
  if (A.innerStride() == 1 && rhs.innerStride() == 1 && z.innerStride() == 1
      && detail::cholesky_solve(A.data(), std::size_t(A.outerStride()), d, rhs.data(), z.data(),
                                work.data()))
    return;
  // Singular (lambda 0 and too few ratings): the minimum-norm least-squares solution.
  Eigen::MatrixXd full = A.selfadjointView<Eigen::Lower>();
  z = full.completeOrthogonalDecomposition().solve(rhs);
}

void als_solver::solve_system(Eigen::Index d, Eigen::Ref<Eigen::VectorXd> z) {
  solve_normal_equations(A_.topLeftCorner(d, d), rhs_.head(d), work_, z);
}

void als_solver::solve(std::span<const index_t> others, std::span<const float> values,
                       const factor_table& other_factors, std::span<const double> other_bias,
                       double mu, double& bias, std::span<float> x) {
  const auto n = Eigen::Index(others.size());
  if (n == 0)
    return;
  const auto k = Eigen::Index(p_.rank);
  const double scale = regularisation_weight(p_, others.size());
  const double reg = p_.lambda * scale;
  const double reg_bias = p_.lambda_bias * scale;
  Eigen::Map<Eigen::VectorXf> xv(x.data(), k);
  if (Xt_.cols() < n) {
    Xt_.resize(k + 1, n);
    y_.resize(n);
  }

  if (p_.biases == bias_mode::joint) {
    // Design row [1, P_i], target r - mu - b_i, unknown [b, x].
    const auto d = k + 1;
    for (Eigen::Index j = 0; j < n; ++j) {
      Xt_(0, j) = 1.0;
      Xt_.col(j).segment(1, k) = other_factors.row(others[j]).cast<double>();
      y_[j] = double(values[j]) - mu - other_bias[others[j]];
    }
    accumulate(n, d);
    A_(0, 0) += reg_bias;
    for (Eigen::Index a = 1; a < d; ++a)
      A_(a, a) += reg;
    solve_system(d, z_.head(d));
    bias = z_[0];
    xv = z_.segment(1, k).cast<float>();
    return;
  }

  // Alternate: the bias in closed form against the current x, then x against the residual.
  double sum = 0.0;
  const Eigen::VectorXd xd = xv.cast<double>();
  for (Eigen::Index j = 0; j < n; ++j) {
    auto i = others[j];
    sum += double(values[j]) - mu - other_bias[i] - xd.dot(other_factors.row(i).cast<double>());
  }
  bias = sum / (reg_bias + double(n));
  for (Eigen::Index j = 0; j < n; ++j) {
    Xt_.col(j).head(k) = other_factors.row(others[j]).cast<double>();
    y_[j] = double(values[j]) - mu - bias - other_bias[others[j]];
  }
  accumulate(n, k);
  for (Eigen::Index a = 0; a < k; ++a)
    A_(a, a) += reg;
  solve_system(k, z_.head(k));
  xv = z_.head(k).cast<float>();
}

void als_half_sweep(const rating_csr& rows, const factor_table& other_factors,
                    std::span<const double> other_bias, double mu, factor_table& self_factors,
                    std::span<double> self_bias, als_solver& solver) {
  for (index_t e = 0; e < rows.rows(); ++e)
    solver.solve(rows.cols_of(e), rows.values_of(e), other_factors, other_bias, mu,
                 self_bias[e], self_factors.row_span(e));
}

void als_sweep(const rating_blocks& blocks, factor_model& m, als_solver& solver) {
  als_half_sweep(blocks.by_user, m.P(), m.item_bias(), m.mu(), m.U(), m.user_bias(), solver);
  als_half_sweep(blocks.by_item, m.U(), m.user_bias(), m.mu(), m.P(), m.item_bias(), solver);
}

double training_rmse(const factor_model& m, const rating_csr& by_user) {
  double se = 0.0;
  for (index_t u = 0; u < by_user.rows(); ++u) {
    auto items = by_user.cols_of(u);
    auto values = by_user.values_of(u);
    for (std::size_t j = 0; j < items.size(); ++j) {
      double e = m.raw_predict(u, items[j]) - double(values[j]);
      se += e * e;
    }
  }
  return by_user.nnz() == 0 ? 0.0 : std::sqrt(se / double(by_user.nnz()));
}

double als_objective(const factor_model& m, const rating_blocks& blocks, const als_params& p) {
  double rmse = training_rmse(m, blocks.by_user);
  double total = rmse * rmse * double(blocks.nnz());
  auto penalty = [&](const rating_csr& rows, const factor_table& f, std::span<const double> b) {
    for (index_t e = 0; e < rows.rows(); ++e) {
      double w = regularisation_weight(p, rows.count(e));
      total += w * (p.lambda * f.row(e).cast<double>().squaredNorm()
                    + p.lambda_bias * b[e] * b[e]);
    }
  };
  penalty(blocks.by_user, m.U(), m.user_bias());
  penalty(blocks.by_item, m.P(), m.item_bias());
  return total;
}

}  // namespace recflow
