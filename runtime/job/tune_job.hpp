/// A hyper-parameter search as `recflow tune` runs it: the problem (search space with
/// overrides, validation folds cut from the training ratings), the search on a pool of
/// actors, then the winner and the defaults trained on every training rating and scored
/// on the test set, which the search never saw. Implicit mode: the training and test
/// events come from hold_out_latest (job/implicit_job.hpp), the validation fold is the
/// latest training event of each user, and the finalists are scored by HR@k and NDCG@k
/// beside the popularity baseline.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "recflow/job/implicit_job.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/tune/tune.hpp"
#include "recflow/tune/tune_problem.hpp"

namespace recflow {

/// A search, with defaults.
struct tune_job_options {
  tune_mode mode = tune_mode::batch;
  tune_options search{};                 ///< kind, trials, grid points, eta, brackets, pruning, seed
  std::vector<std::string> params{};     ///< NAME=1,2,3 or NAME=LO..HI[:log]: space overrides
  int folds = 0;                         ///< batch: k-fold cross-validation (0: hold-out)
  double validation = 0.2;               ///< fraction held out (stream: newest part of the window)
  std::size_t window = 50000;            ///< stream: the last W training ratings (0: all)
  stream_order order = stream_order::random;
  int iterations = als_params{}.iterations;  ///< batch, implicit: ALS iterations of the full budget
  /// implicit: the base parameters (their iterations replaced by `iterations`), the
  /// ranking (k, negatives, seed); split_seed unused (the caller splits).
  implicit_job_options implicit{};
  std::size_t workers = 2;               ///< actors evaluating trials in parallel
  std::uint64_t seed = 42;               ///< folds, trainers and the search
};

/// "workers must be positive, got 0", "--folds must be at least 2 ...", the search's checks.
result<void> validate(const tune_job_options& o);

/// The problem `o` describes on `train`: the space with the overrides applied, the base
/// parameters (seeded) and the validation folds.
result<tune_problem> make_tune_problem(const tune_job_options& o, const rating_table& train);

/// What a search found, and the test scores of its winner and of the defaults.
struct tune_job_result {
  tune_report report;
  error_metrics best_test{};     ///< batch and stream
  error_metrics default_test{};  ///< batch and stream
  implicit_job_result best_ranked{};     ///< implicit: the winner's model and test ranking
  implicit_job_result default_ranked{};  ///< implicit: the defaults' (popularity too)
};

/// Runs the search of `p` on `o.workers` actors, then scores the winner and the defaults
/// trained on `train` on `test`; `on_progress(done, total)` hears the trials.
result<tune_job_result> run_tune_job(const tune_problem& p, const tune_job_options& o,
                                     const rating_table& train, const rating_table& test,
                                     const std::function<void(std::size_t, std::size_t)>& on_progress = {});

}  // namespace recflow
