/// The stream_eval protocol on the actor graph: what `recflow stream --engine local`
/// calls. Same batches, same reports as stream_evaluate() with a fresh streaming_trainer
/// (and the same model, bit for bit: see the "[engine][equivalence]" tests).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/model/stream_eval.hpp"

namespace recflow {

/// How the graph is laid out, with defaults.
struct local_stream_options {
  std::size_t partitions = 2;        ///< shards of U and of P
  /// For both edges: "hash", "modulo", "range" or "degree" (fitted to the training
  /// stream's degrees), "random" or "consistent" (see graph/partitioners.hpp).
  std::string partitioner = "hash";
  engine_options engine{};           ///< workers, batches in flight, stall timeout
  /// A trained model to continue from (see streaming_graph::seed_model); null = empty.
  std::shared_ptr<const factor_model> seed_model{};
  /// Run the owners on these `recflow node` processes (cluster_engine) instead of in
  /// this process; empty: local_engine.
  std::vector<node_endpoint> nodes{};
  /// With nodes: called once with the placement (cluster_engine::explain) before running.
  std::function<void(const std::string&)> on_placement{};
  /// With nodes: recover from a lost node (cluster_options::recover), keeping a checkpoint
  /// in memory every `checkpoint_every` batches; `on_event` hears what happened.
  bool recover = false;
  std::size_t checkpoint_every = 10;
  std::function<void(const std::string&)> on_event{};
  /// When set, wraps the training source (e.g. to merge ratings posted to a server into
  /// the next micro-batch, or to end the stream early).
  std::function<std::shared_ptr<rating_source>(std::shared_ptr<rating_source>)> wrap_source{};
  /// When set, receives the model after every batch (see streaming_graph::on_model).
  std::function<void(std::uint64_t batch, factor_model&& model)> on_model{};
  /// With on_model: hand over a model at most this often; 0: after every batch (see
  /// streaming_graph::publish_interval). The stream's last model is not necessarily
  /// handed over: the caller has it as local_stream_result::model.
  std::chrono::milliseconds publish_interval{100};
};

/// What a streamed run produced.
struct local_stream_result {
  std::vector<stream_report> reports;  ///< one per batch, as stream_evaluate reports them
  factor_model model;                  ///< the model after the last batch
};

/// Streams `train` (ordered by `opts.order`, `opts.order_seed`) through a graph in batches
/// of `opts.batch_size` (at most `opts.max_batches`, 0 = all), starting from
/// `local.seed_model` or else an empty model on train's scale; after each batch evaluates a snapshot on `validation` (ids
/// matched by external id). Reports every batch to `on_batch`.
result<local_stream_result> run_stream(const stream_params& params, const rating_table& train,
                                       const rating_table& validation,
                                       const stream_eval_options& opts = {},
                                       const local_stream_options& local = {},
                                       const stream_callback& on_batch = {});

}  // namespace recflow
