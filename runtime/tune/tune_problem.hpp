/// What `recflow tune` tunes on real ratings: validation folds cut from the training
/// ratings only (the test set is for the final report), the objective that trains batch
/// ALS or a stream on them, and the final train-on-everything, score-on-test step.
///
/// Budgets and work units:
///  - batch: a budget fraction f trains max(1, round(f * iterations)) ALS sweeps; work is
///    counted in rating-sweeps (training ratings x ALS iterations);
///  - stream: f streams the newest round(f * n) ratings of the fold's training part (from
///    an empty model, in micro-batches of the candidate's batch size); work is counted in
///    rating-passes (ratings streamed x passes per batch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/metrics.hpp"
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

/// Everything a tuning run needs besides the search options.
struct tune_problem {
  search_space space;
  als_params als;          ///< batch: base parameters; iterations is the full budget
  stream_settings stream;  ///< stream: base parameters
  std::vector<tune_fold> folds;
};

/// Checks every candidate the space can produce would be valid parameters (the ranges'
/// ends and every list value), naming the first that is not.
result<void> check_space(const tune_problem& p);

/// The objective of `p` (see the file comment); `p` must outlive it.
tune_objective make_objective(const tune_problem& p);

/// Trains `c` on all of `train` (batch: ALS with p.als's iterations; stream: from an
/// empty model over `train` in `order` with `seed`, as `recflow stream` does) and scores
/// it on `test`.
result<error_metrics> train_and_test(const tune_problem& p, const candidate& c,
                                     const rating_table& train, const rating_table& test,
                                     stream_order order, std::uint64_t seed);

}  // namespace recflow
