/// The local engine: runs a streaming_graph on a CAF actor system in this process.
///
///   auto engine = local_engine::make(graph, {.workers = 2}).value();
///   engine->run_n(10);                       // ten micro-batch rounds
///   factor_model m = engine->snapshot().value();
///
/// A micro-batch round is explicit: the coordinator (the calling thread) stamps a batch
/// with its number and the new global mean, the partition routes it, the owners run
/// every pass, and the round is complete when every owner has reported. At most
/// `max_in_flight` batches are between the source and completion (backpressure: the
/// source is only asked for a batch when there is room).
///
/// Equivalence with the single-threaded streaming_trainer (batch_gradient mode): every
/// key's gradients are summed in batch order by the owner of the key, with the kernels
/// the trainer uses (stream_kernel::with_rank), against the same pass-start snapshot, so
/// the model is bit-identical to the trainer's built with the same flags, for any number
/// of partitions. The tests allow 1e-9 relative; the largest difference they see is 0. A
/// build with other flags (FMA contraction, SIMD width) differs by reassociation only,
/// about 1e-12 relative per batch.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "recflow/engine/metrics.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/graph/graph.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How the engine runs, with defaults.
struct engine_options {
  std::size_t workers = 2;        ///< CAF scheduler threads (scheduler.max-threads)
  std::size_t max_in_flight = 2;  ///< batches between the source and completion
  /// A run fails with "no progress for N ms" if no message arrives for this long.
  std::chrono::milliseconds stall_timeout{120'000};
  /// Owners ship their rows to each other as wire frames (graph/wire.hpp), as the owners
  /// of a multi-node job do, instead of sharing them by pointer: the per-edge bytes are
  /// then what crossing machines would cost. Same model, slower; for measuring.
  bool frame_rows = false;
  /// history() keeps at least the last this many batches (at most twice as many), so a
  /// stream that runs for days holds bounded memory; 0: every batch.
  std::size_t history_limit = 0;
  /// The actor threads run at this priority (default: unchanged). Serving while training
  /// lowers it, so that a query's thread gets a core at once when it wakes.
  thread_priority priority{};
};

/// "workers must be positive, got 0" and friends.
result<void> validate(const engine_options& o);

/// Called after every completed batch; for run_until, returning true stops the run.
using batch_callback = std::function<void(const batch_metrics&)>;
using stop_predicate = std::function<bool(const batch_metrics&)>;

class local_engine {
 public:
  /// Validates `g` and `o`, starts the actor system and spawns the graph's actors. The
  /// source runs on its own (detached) thread; destroying the engine waits for a
  /// `next()` in progress to return.
  static result<std::unique_ptr<local_engine>> make(streaming_graph g,
                                                    const engine_options& o = {});
  ~local_engine();
  local_engine(const local_engine&) = delete;
  local_engine& operator=(const local_engine&) = delete;

  /// Runs until the source ends (or fails: the error is returned after the batches in
  /// flight have completed, so the model stays consistent).
  result<run_summary> run(const batch_callback& on_batch = {});
  /// Runs at most `batches` more micro-batches.
  result<run_summary> run_n(std::size_t batches, const batch_callback& on_batch = {});
  /// Runs until `stop` returns true for a completed batch (batches already in flight
  /// then complete too: at most max_in_flight - 1 more) or the source ends.
  result<run_summary> run_until(const stop_predicate& stop, const batch_callback& on_batch = {});

  /// The model after the last completed batch, assembled from every shard.
  result<factor_model> snapshot();

  /// Metrics of every batch completed so far (the recent ones with history_limit).
  const std::vector<batch_metrics>& history() const noexcept;
  /// True once the source has ended.
  bool finished() const noexcept;
  const streaming_graph& graph() const noexcept;

 private:
  struct impl;
  explicit local_engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
