/// Batch ALS against streaming on one split (what `recflow compare` runs): each trained
/// at its settings and scored on the validation set, the streaming RMSE per batch with a
/// centered trend, and the per-batch CSV.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "recflow/model/als.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/stream_eval.hpp"

namespace recflow {

/// The settings of both trainers, with defaults.
struct compare_options {
  als_params als{};
  stream_params stream{};
  stream_eval_options eval{};
  ranking_options ranking{};
  std::size_t smooth = 9;  ///< batches in the trend's window (an even one is widened by one)
};

/// "--smooth must be positive, got 0", or what the trainers' own checks say.
result<void> validate(const compare_options& o);

/// One trainer's scores on the validation set.
struct compare_score {
  error_metrics errors{};
  ranking_metrics ranking{};
  double seconds = 0.0;  ///< training and scoring
};

/// Batch ALS on every training rating at once; `on_iteration` hears the training RMSE.
result<compare_score> compare_batch(const rating_table& train, const rating_table& test,
                                    const compare_options& o,
                                    const std::function<void(int, double)>& on_iteration = {});

/// Streaming, one micro-batch at a time, evaluated after each.
struct compare_stream_result {
  compare_score score;
  std::vector<stream_report> reports;
};
result<compare_stream_result> compare_stream(const rating_table& train, const rating_table& test,
                                             const compare_options& o,
                                             const stream_callback& on_batch = {});

/// Centered moving mean over `window` values (an even window is widened by one). Near
/// the ends the window shrinks symmetrically (the first and last values are their own
/// trend), so the trend stays centered: it neither lags like an exponential average nor
/// leans on one side.
std::vector<double> centered_mean(const std::vector<double>& v, std::size_t window);

/// Writes `batch,ratings_seen,stream_rmse,stream_rmse_trend,batch_als_rmse` per batch,
/// the trend over `smooth | 1` batches; "PATH: cannot write the per-batch CSV" on failure.
result<void> write_compare_csv(const std::string& path, const std::vector<stream_report>& reports,
                               std::size_t smooth, double batch_rmse);

}  // namespace recflow
