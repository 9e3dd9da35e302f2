/// Fold-in: a user's factors and bias solved from their ratings against the current item
/// factors (one regularised least-squares solve, as Oryx's speed layer does), and top-N
/// for such a user.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/recommend.hpp"

namespace recflow {

/// Regularisation of a fold-in, with defaults. The solve minimises, over the user's
/// ratings of items the model knows,
///   sum (r - mu - b_i - b - x . P_i)^2 + lambda * n^exponent * |x|^2
///                                      + lambda_bias * n^exponent * b^2
/// where n is the number of those ratings (the scaling of batch ALS). On ml-latest-small
/// (a streamed rank-10 model, 50 users each folding in the older half of their ratings)
/// held-out RMSE is flat near the defaults: 0.883 at 0.3/0.3, 0.889 at 1/1, 0.910 at 10/1.
struct fold_in_params {
  double lambda = 1.0;          ///< factor regularisation (times n^exponent)
  double lambda_bias = 1.0;     ///< bias regularisation (times n^exponent)
  double lambda_exponent = 0.5; ///< 0: plain ridge, 1: ALS-WR
};

/// "lambda must be finite and non-negative" and friends.
result<void> validate(const fold_in_params& p);

/// One item rating by external ids, as a client posts it.
struct item_rating {
  std::int64_t item = 0;
  double value = 0.0;
};

/// A user outside (or ahead of) the model: their bias, factors and rated items.
struct folded_user {
  double bias = 0.0;
  std::vector<float> factors;   ///< rank entries (solved in double, stored as a model row)
  std::vector<index_t> rated;   ///< dense item indices in the model they were solved against, sorted
  std::size_t used = 0;         ///< ratings that entered the solve (items the model knows)
};

/// Solves a user's bias and factors from `ratings` against the item factors and biases
/// of `m`. Ratings of items the model does not know are left out of the solve (they
/// still count as rated). With no usable rating the user stays cold: bias 0, factors 0,
/// used 0. Fails on a non-finite rating value.
result<folded_user> fold_in(const factor_model& m, std::span<const item_rating> ratings,
                            const fold_in_params& p = {});

/// The implicit fold-in: a user's factors solved from their events (`value`: the weight,
/// positive) against the item factors of an implicit model `m`, as one user solve of
/// implicit ALS with `prepared`'s parameters and its Gram matrix of `m`'s item factors
/// (implicit_als_solver::prepare on m.P(), once per model). Repeated events on an item
/// add up; a posted event has no time, so each counts as one of the user's latest (its
/// weight times 1 + recency_boost); events on items the model does not know only count
/// as rated. No bias (an implicit model has none). With no usable event the user stays
/// cold. Fails on a weight that is not positive and finite.
result<folded_user> fold_in_events(const factor_model& m, std::span<const item_rating> events,
                                   const implicit_als_solver& prepared);

/// Clamped prediction for a folded user: mu + b + b_i + x . P_i, or mu + b for an
/// unknown item. A user with `used == 0` gets the cold-start prediction mu + b_i.
double predict_folded(const factor_model& m, const folded_user& u, std::int64_t item) noexcept;

/// Top-N for a folded user, as recommend() does for a known one (excludes `u.rated`
/// when opts.exclude_rated). A user with `used == 0` gets cold_start_items().
std::vector<scored_item> recommend_folded(const factor_model& m, const folded_user& u,
                                          const recommend_options& opts = {});

}  // namespace recflow
