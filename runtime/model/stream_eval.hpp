/// The streaming protocol: stream training ratings in micro-batches through a
/// streaming_trainer and measure validation error after every batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/split.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// How to stream, with defaults.
struct stream_eval_options {
  std::size_t batch_size = 1000;              ///< ratings per micro-batch (the last may be smaller)
  stream_order order = stream_order::random;  ///< order of the training ratings
  std::uint64_t order_seed = 42;              ///< seed of the random order
  std::size_t max_batches = 0;                ///< stop after this many batches; 0 = all
  /// Evaluate after every this many batches (batch numbers divisible by it); 1: after
  /// every batch, as the original design plots it. Long streams evaluate less often.
  std::size_t eval_every = 1;
};

/// "batch size must be positive" and friends; empty result when the options are fine.
result<void> validate(const stream_eval_options& o);

/// What happened in one batch.
struct stream_report {
  std::uint64_t batch = 0;         ///< 1-based batch number
  std::uint64_t ratings_seen = 0;  ///< training ratings streamed so far, this batch included
  bool evaluated = true;           ///< rmse and mae were measured after this batch
  double rmse = 0.0;               ///< validation RMSE after the batch (0 if not evaluated)
  double mae = 0.0;                ///< validation MAE after the batch (0 if not evaluated)
  double batch_seconds = 0.0;      ///< time of the model update of this batch
  double elapsed_seconds = 0.0;    ///< wall time since the stream began (updates + evaluations)
};

/// Called after every batch.
using stream_callback = std::function<void(const stream_report&)>;

/// Streams `train` (in `opts.order`) through `trainer` in batches of `opts.batch_size`;
/// after each batch (every `opts.eval_every`-th) evaluates the model on `validation`, whose indices live in the id
/// space (`val_users`, `val_items`) (it may differ from train's: evaluate() maps by
/// external id). Reports every batch to `on_batch` and returns all reports.
result<std::vector<stream_report>> stream_evaluate(streaming_trainer& trainer,
                                                   const rating_table& train,
                                                   std::span<const rating> validation,
                                                   const id_map& val_users,
                                                   const id_map& val_items,
                                                   const stream_eval_options& opts = {},
                                                   const stream_callback& on_batch = {});

/// Same, with the validation set as a table.
inline result<std::vector<stream_report>> stream_evaluate(
  streaming_trainer& trainer, const rating_table& train, const rating_table& validation,
  const stream_eval_options& opts = {}, const stream_callback& on_batch = {}) {
  return stream_evaluate(trainer, train, validation.ratings, validation.users, validation.items,
                         opts, on_batch);
}

}  // namespace recflow
