/// One entity's regularised least-squares solve, the step ALS repeats for every user and
/// every item; reusable by anything that owns a block of entities.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// Regularisation weight of an entity with `n` ratings: n^lambda_exponent when
/// weighted, else 1.
inline double regularisation_weight(const als_params& p, std::size_t n) noexcept {
  return p.weighted_lambda ? std::pow(double(n), p.lambda_exponent) : 1.0;
}

/// The model train_als starts from: the users and items of `blocks` (external ids from
/// `train`'s maps) with seeded factors, zero biases, their counts, and mu = the mean of
/// `train`. No rated-items index yet.
factor_model als_initial_model(const rating_table& train, const rating_blocks& blocks,
                               const als_params& p);

/// The rated-items index of a model trained on `blocks`, in its compact indices (what
/// train_als and the actor graph put in the model they return).
rated_items als_rated_items(const rating_blocks& blocks);

/// What the parameters of every batch ALS trainer (explicit and implicit) share.
struct als_common_params {
  int rank = 0, iterations = 0;
  double lambda = 0.0, lambda_exponent = 0.0, init_stddev = 0.0;
};

/// The checks of those, alike for every trainer: rank and iterations positive; lambda,
/// lambda_exponent and init_stddev non-negative and finite.
result<void> validate(const als_common_params& p);

/// A parameter's value as the trainers' error messages show it ("nan", "inf", "-inf").
std::string shown_parameter(double v);

/// The ratings of `train` grouped both ways, after the checks every batch ALS trainer
/// starts with: at least one rating ("training set is empty: ALS needs at least one
/// `what`") and every index within the table's id maps.
result<rating_blocks> als_training_blocks(const rating_table& train, const char* what = "rating");

/// What every batch ALS trainer does around its sweeps: from `m`, `iterations` times
/// `sweep(blocks, m)`, then `progress(iteration, score(blocks, m))` when progress is set;
/// finally the rated-items index of `blocks`.
template <class Sweep, class Score>
factor_model run_als_sweeps(const rating_blocks& blocks, factor_model m, int iterations,
                            Sweep&& sweep, Score&& score, const als_progress& progress) {
  for (int it = 1; it <= iterations; ++it) {
    sweep(blocks, m);
    if (progress)
      progress(it, score(blocks, m));
  }
  m.rated() = als_rated_items(blocks);
  return m;
}

/// Solves A z = rhs for a symmetric positive semi-definite A of which only the lower
/// triangle is read: by Cholesky (dense_kernels.hpp; `work` is reused scratch), or, when
/// A is singular (lambda 0 and too few ratings), as the minimum-norm least-squares
/// solution.
void solve_normal_equations(const Eigen::Ref<const Eigen::MatrixXd>& A,
                            const Eigen::Ref<const Eigen::VectorXd>& rhs,
                            std::vector<double>& work, Eigen::Ref<Eigen::VectorXd> z);

/// Solves one entity (a user against fixed items, or an item against fixed users).
/// Holds scratch buffers, so reuse one solver for many entities; not thread-safe.
class als_solver {
 public:
  explicit als_solver(const als_params& p);

  /// Updates `bias` and `x` (rank floats; the system is built and solved in double,
  /// the solution rounded once) of one entity from its ratings: the other
  /// side's indices `others` with values `values`, whose factors and biases are
  /// `other_factors` and `other_bias`. Joint mode solves [bias, x] together; alternate
  /// mode solves the bias in closed form first, then x against the residual. An entity
  /// without ratings is left as it is.
  void solve(std::span<const index_t> others, std::span<const float> values,
             const factor_table& other_factors, std::span<const double> other_bias, double mu,
             double& bias, std::span<float> x);

 private:
  // Fills A_ (lower triangle) and rhs_ from the first n columns of Xt_ and y_.
  void accumulate(Eigen::Index n, Eigen::Index d);
  // Solves (A_ + diag) z = rhs_ into z; regularisation already added to A_.
  void solve_system(Eigen::Index d, Eigen::Ref<Eigen::VectorXd> z);

  als_params p_;
  Eigen::MatrixXd Xt_;  // d x n: one design row per column, contiguous
  Eigen::VectorXd y_;   // n targets
  Eigen::MatrixXd A_;
  Eigen::VectorXd rhs_, z_;
  std::vector<double> work_;  // the Cholesky factor
};

/// Solves every row of `rows` against the other side: one half of an ALS sweep.
void als_half_sweep(const rating_csr& rows, const factor_table& other_factors,
                    std::span<const double> other_bias, double mu, factor_table& self_factors,
                    std::span<double> self_bias, als_solver& solver);

/// One full ALS sweep over `m`: every user against the items, then every item against
/// the users. `m`'s dense indices must be the compact indices of `blocks`.
void als_sweep(const rating_blocks& blocks, factor_model& m, als_solver& solver);

/// Unclamped training RMSE of `m` on the ratings of `by_user` (compact indices that
/// match the model's dense indices).
double training_rmse(const factor_model& m, const rating_csr& by_user);

/// The objective ALS minimises, for `m` on the ratings of `blocks` (whose compact indices
/// match the model's): squared errors plus reg * |x|^2 + reg_bias * b^2 for every user and
/// item (reg and reg_bias as in als_params). Every exact user or item solve lowers it
/// or leaves it unchanged.
double als_objective(const factor_model& m, const rating_blocks& blocks, const als_params& p);

}  // namespace recflow
