/// What `recflow tune` tunes on real ratings: validation folds cut from the training
/// ratings only (the test set is for the final report), the objective that trains batch
/// ALS, a stream or implicit ALS on them, and the final train-on-everything, score-on-test
/// step of the explicit modes (implicit: job/implicit_job.hpp's train_and_rank).
///
/// Budgets, losses and work units:
///  - batch: a budget fraction f trains max(1, round(f * iterations)) ALS sweeps; the loss
///    is the validation RMSE; work is counted in rating-sweeps (training ratings x ALS
///    iterations);
///  - stream: f streams the newest round(f * n) ratings of the fold's training part (from
///    an empty model, in micro-batches of the candidate's batch size); the loss is the
///    validation RMSE; work is counted in rating-passes (ratings streamed x passes per batch);
///  - implicit: f trains max(1, round(f * iterations)) implicit ALS sweeps on the fold's
///    training events; the loss is 1 - HR@k of the validation events, each ranked against
///    sampled negatives (the `ranking` options); work is counted in event-sweeps (training
///    events x ALS iterations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/ratings.hpp"
#include "recflow/model/split.hpp"
#include "recflow/tune/tune.hpp"
#include "recflow/tune/tune_space.hpp"

namespace recflow {

/// One validation fold: train on `train`, score on `validation` (same id maps).
struct tune_fold {
  rating_table train;
  rating_table validation;
};

/// Hold-out (folds < 2: a seeded `validation_fraction` of `train` held out) or k-fold
/// cross-validation over `train` (folds >= 2).
result<std::vector<tune_fold>> validation_folds(const rating_table& train,
                                                double validation_fraction, int folds,
                                                std::uint64_t seed);

/// The streaming fold: `train` in stream order (`order`, seeded), its last `window`
/// ratings (0: all), of which the newest `validation_fraction` are scored and the older
/// ones streamed. Needs nothing older than the window.
result<tune_fold> window_fold(const rating_table& train, std::size_t window,
                              double validation_fraction, stream_order order,
                              std::uint64_t seed);

/// The implicit fold: leave-latest-out within `train` (events): each user's latest
/// training event (of users with at least two) is validated, the rest trained on, so the
/// events held out for the test are never seen. Ties among the latest are broken by `seed`.
result<tune_fold> latest_fold(const rating_table& train, std::uint64_t seed);

/// Everything a tuning run needs besides the search options.
struct tune_problem {
  search_space space;
  als_params als;          ///< batch: base parameters; iterations is the full budget
  stream_settings stream;  ///< stream: base parameters
  implicit_params implicit;          ///< implicit: base parameters; iterations is the full budget
  sampled_ranking_options ranking{}; ///< implicit: k, negatives and their seed (model ranker)
  std::vector<tune_fold> folds;
};

/// The base parameters of `p`'s mode (als, stream or implicit) as a point of its space.
candidate default_candidate(const tune_problem& p);

/// Checks every candidate the space can produce would be valid parameters (the ranges'
/// ends and every list value), naming the first that is not.
result<void> check_space(const tune_problem& p);

/// The objective of `p` (see the file comment); `p` must outlive it.
tune_objective make_objective(const tune_problem& p);

/// Trains `c` on all of `train` (batch: ALS with p.als's iterations; stream: from an
/// empty model over `train` in `order` with `seed`, as `recflow stream` does) and scores
/// it on `test`. Not for implicit problems (an error): they are scored by ranking.
result<error_metrics> train_and_test(const tune_problem& p, const candidate& c,
                                     const rating_table& train, const rating_table& test,
                                     stream_order order, std::uint64_t seed);

}  // namespace recflow
