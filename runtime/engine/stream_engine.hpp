/// What every engine of a streaming_graph offers alike (local_engine, cluster_engine): the
/// options both take, and run / run_n / run_until over the rounds of one coordinator
/// (engine/coordinator.hpp), with the metrics of the batches they completed.
///
///   auto engine = local_engine::make(graph, {.workers = 2, .history_limit = 100}).value();
///   engine->run_until([](const batch_metrics& m) { return m.rmse && *m.rmse < 0.95; });
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "recflow/engine/metrics.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/graph/graph.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// How an engine runs, with defaults. Every field means the same on both engines; where a
/// cluster reads one differently, its line says so.
struct engine_options {
  /// CAF scheduler threads (scheduler.max-threads); on a cluster, the driver's (each node
  /// sets its own).
  std::size_t workers = 2;
  std::size_t max_in_flight = 2;  ///< batches between the source and completion
  /// A run fails with "no progress for N ms" if no message arrives for this long (on a
  /// cluster, a node that answers no ping then is lost instead).
  std::chrono::milliseconds stall_timeout{120'000};
  /// Owners ship their rows to each other as wire frames (graph/wire.hpp), as the owners
  /// of a multi-node job do, instead of sharing them by pointer: the per-edge bytes are
  /// then what crossing machines would cost. Same model, slower; for measuring. A
  /// cluster's owners always ship frames, whatever this says.
  bool frame_rows = false;
  /// history() keeps at least the last this many batches (at most twice as many), so a
  /// stream that runs for days holds bounded memory; 0: every batch.
  std::size_t history_limit = 0;
  /// The actor threads run at this priority (default: unchanged). Serving while training
  /// lowers it, so that a query's thread gets a core at once when it wakes. On a cluster:
  /// the driver's actor threads (source, partition step); the owners run at the nodes'.
  thread_priority priority{};
};

/// "workers must be positive, got 0" and friends.
result<void> validate(const engine_options& o);

/// Called after every completed batch; for run_until, returning true stops the run.
using batch_callback = std::function<void(const batch_metrics&)>;
using stop_predicate = std::function<bool(const batch_metrics&)>;

class coordinator;

/// The runs and what they leave, over the coordinator an engine holds. Not an engine of
/// its own: local_engine and cluster_engine derive from it.
class stream_engine {
 public:
  /// Runs until the source ends (or fails: the error is returned after the batches in
  /// flight have completed, so the model stays consistent).
  result<run_summary> run(const batch_callback& on_batch = {});
  /// Runs at most `batches` more micro-batches.
  result<run_summary> run_n(std::size_t batches, const batch_callback& on_batch = {});
  /// Runs until `stop` returns true for a completed batch (batches already in flight
  /// then complete too: at most max_in_flight - 1 more) or the source ends.
  result<run_summary> run_until(const stop_predicate& stop, const batch_callback& on_batch = {});

  /// Metrics of every batch completed so far (the recent ones with history_limit).
  const std::vector<batch_metrics>& history() const noexcept;
  /// True once the source has ended.
  bool finished() const noexcept;
  const streaming_graph& graph() const noexcept;

 protected:
  /// `core` belongs to the derived engine and outlives every call made here.
  explicit stream_engine(coordinator& core) noexcept : core_(&core) {}
  ~stream_engine() = default;
  stream_engine(const stream_engine&) = delete;
  stream_engine& operator=(const stream_engine&) = delete;

 private:
  coordinator* core_;
};

}  // namespace recflow
