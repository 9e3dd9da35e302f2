/// Streaming from any rating_source on the actor graph, with checkpoints and resume:
/// what `recflow stream --source ...` and `--checkpoint-dir` call.
///
///   auto run = run_source_stream(params, redis_source(o), scale, validation,
///                                {.checkpoints = {.dir = "ckpt", .every = 10}, .resume = true});
///
/// Every `checkpoints.every` batches (and once at the end) the model is written with the
/// stream_mark it covers (model/checkpoint.hpp). With `resume`, the newest good
/// checkpoint seeds the graph and the source continues after its position: through
/// rating_source::resume_after() when the checkpoint has a position, else by skipping
/// the ratings it covers (sources that replay the same stream: memory, file, synthetic).
/// A batch is never applied twice and never skipped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/model/checkpoint.hpp"
#include "recflow/model/stream_eval.hpp"

namespace recflow {

/// How a source is streamed, with defaults.
struct source_stream_options {
  std::size_t partitions = 2;         ///< shards of U and of P
  /// hash or modulo (the others are fitted to, or drawn for, the keys of a training set,
  /// which a live source does not have up front).
  std::string partitioner = "hash";
  engine_options engine{};            ///< workers, batches in flight, stall timeout
  std::size_t max_batches = 0;        ///< stop after this many batches in this run; 0 = all
  std::size_t eval_every = 1;         ///< with a validation set: evaluate every n-th batch
  checkpoint_options checkpoints{};   ///< dir empty: no checkpoints
  bool resume = false;                ///< continue from the newest good checkpoint in dir
  /// The model a fresh stream starts from (null: empty); a resumed run starts from its
  /// checkpoint instead.
  std::shared_ptr<const factor_model> seed_model{};
  /// Run the owners on these `recflow node` processes (cluster_engine); empty: in this
  /// process. A resumed run seeds the nodes' owners from the checkpoint.
  std::vector<node_endpoint> nodes{};
  /// With nodes: recover from a lost node (cluster_options::recover; its in-memory
  /// checkpoints come every checkpoints.every batches); `on_event` hears what happened.
  bool recover = false;
  std::function<void(const std::string&)> on_event{};
  /// Local engine only. When set, wraps the source after a resume has positioned it
  /// (e.g. serve::stream_link: ratings posted to a server join the next micro-batch).
  /// Ratings the wrapper adds are trained on but never counted in a checkpoint's mark,
  /// and a batch carries the source's own position: a resume continues the source
  /// exactly after what it delivered (what was added is in the checkpoint's model, and
  /// lost if added after the last checkpoint).
  std::function<std::shared_ptr<rating_source>(std::shared_ptr<rating_source>)> wrap_source{};
  /// Local engine only. When set, receives the model after a batch (see
  /// streaming_graph::on_model); batch numbers continue a resumed run.
  std::function<void(std::uint64_t batch, factor_model&& model)> on_model{};
  /// With on_model: hand over a model at most this often; 0: after every batch.
  std::chrono::milliseconds publish_interval{100};
  /// When set, hears the checkpoint's model and mark when the run resumes, before the
  /// first batch (a server then answers from the resumed model).
  std::function<void(const factor_model& model, const stream_mark& mark)> on_resume{};
};

/// What a streamed run produced.
struct source_stream_result {
  std::vector<stream_report> reports;  ///< this run's batches; numbers continue a resumed run
  factor_model model;                  ///< the model after the last batch
  stream_mark mark;                    ///< everything applied since the stream began
  /// Ratings wrap_source added in this run (trained on, not in `mark`).
  std::uint64_t added_ratings = 0;
  std::optional<std::string> resumed_from;  ///< the checkpoint file this run started from
  std::vector<std::string> checkpoints_written;
};

/// Streams `source` through a graph on `scale`, from an empty model (or the resumed
/// checkpoint). After each batch evaluates on `validation` when given. `on_note` hears
/// what a user should know (a corrupt checkpoint skipped, a resume with nothing to
/// resume from).
result<source_stream_result> run_source_stream(
  const stream_params& params, std::shared_ptr<rating_source> source, rating_scale scale,
  std::shared_ptr<const rating_table> validation, const source_stream_options& opts = {},
  const stream_callback& on_batch = {},
  const std::function<void(const std::string&)>& on_note = {});

}  // namespace recflow
