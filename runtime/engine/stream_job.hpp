/// One streaming run on the actor graph: the input (a rating table or a live source), the
/// partitioner, where the owners run, evaluation, checkpoints and the hooks a server
/// uses, in one options struct; run_stream_job() builds the graph and drives it.
///
///   stream_job_options job;
///   job.input = table_input{.ratings = train, .batch_size = 1000};
///   job.evaluation = {.validation = test};
///   job.checkpoints = {.dir = "ckpt", .every = 10};
///   auto run = run_stream_job(job, [](const stream_report& r) { ... });
///
/// A table is ordered (stream_order, seeded) and cut into batches of batch_size; every
/// partitioner works on it (range and degree are fitted to its degrees). A live source
/// batches itself and is partitioned by hash or modulo. Every `checkpoints.every` batches
/// (and once at the end) the model is written with the stream_mark it covers
/// (graph/checkpoint.hpp). With `resume`, the newest good checkpoint seeds the graph and
/// the input continues after its position: through rating_source::resume_after() when the
/// checkpoint has a position, else by skipping the ratings it covers. A batch is never
/// applied twice and never skipped. Every layout gives the reference loop's model bit
/// for bit (the "[engine][equivalence]" tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/metrics.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/graph/checkpoint.hpp"
#include "recflow/model/stream_eval.hpp"

namespace recflow {

/// How keys map to shards on both edges (graph/partitioners.hpp).
enum class partitioner_kind { hash, modulo, range, random, degree, consistent };

/// "hash", "modulo", ...
std::string_view to_string(partitioner_kind k);

/// The kind a name spells; "unknown partitioner 'x' (hash, modulo, range, random, degree,
/// consistent)" otherwise.
result<partitioner_kind> parse_partitioner_kind(std::string_view name);

/// Input: a rating table, ordered by `order` (seeded by `order_seed`) and streamed in
/// batches of `batch_size`.
struct table_input {
  std::shared_ptr<const rating_table> ratings;
  std::size_t batch_size = 1000;
  stream_order order = stream_order::random;
  std::uint64_t order_seed = 42;
};

/// Input: a live source (it cuts its own batches) whose ratings lie on `scale`.
struct source_input {
  std::shared_ptr<rating_source> source;
  rating_scale scale{0.5, 5.0};
};

using stream_input = std::variant<table_input, source_input>;

/// Where the factor owners run: in this process (local_engine)...
struct in_process {};

/// ...or on `recflow node` processes (cluster_engine); the driver keeps the source.
struct on_nodes {
  std::vector<node_endpoint> nodes;
  /// The nodes' shared secret (cluster_options::secret); empty: no proof sent.
  std::string secret{};
  /// TLS files (cluster_options::tls); empty: plain TCP.
  link_tls tls{};
  /// Recover from a lost node (cluster_options::recover), keeping a checkpoint in memory
  /// every `checkpoint_every` batches; `on_event` hears what happened.
  bool recover = false;
  std::size_t checkpoint_every = 10;
  std::function<void(const std::string&)> on_event{};
  /// Called once with the placement (cluster_engine::explain) before running.
  std::function<void(const std::string&)> on_placement{};
};

using owner_placement = std::variant<in_process, on_nodes>;

/// A streaming run, with defaults.
struct stream_job_options {
  stream_params training{};                   ///< rank, passes, learning rates (batch_gradient)
  stream_input input{};                       ///< a table or a live source
  std::size_t max_batches = 0;                ///< stop after this many batches in this run; 0 = all
  std::size_t partitions = 2;                 ///< shards of U and of P
  partitioner_kind partitioner = partitioner_kind::hash;
  engine_options engine{};                    ///< workers, batches in flight, stall timeout
  owner_placement where = in_process{};
  /// Validation set (null: none) and how often to evaluate on it.
  evaluation_options evaluation{};
  checkpoint_options checkpoints{};           ///< dir empty: no checkpoints
  bool resume = false;                        ///< continue from the newest good checkpoint in dir
  /// The model a fresh run starts from (null: empty); a resumed run starts from its
  /// checkpoint instead.
  std::shared_ptr<const factor_model> seed_model{};

  // What a server beside the stream uses (stream_serving); in_process only.
  /// Wraps the source (after a resume has positioned it), e.g. serve::stream_link: ratings
  /// posted to a server join the next micro-batch. With checkpoints, resume or a live
  /// source, ratings the wrapper adds are trained on but counted only in added_ratings
  /// (never in the mark a resume continues after); a table streamed without checkpoints
  /// counts them in ratings_seen.
  std::function<std::shared_ptr<rating_source>(std::shared_ptr<rating_source>)> wrap_source{};
  /// Receives the model after a batch (streaming_graph::on_model); numbers continue a
  /// resumed run. The last model is not necessarily handed over: see the result's model.
  std::function<void(std::uint64_t batch, factor_model&& model)> on_model{};
  /// With on_model: hand over a model at most this often; 0: after every batch.
  std::chrono::milliseconds publish_interval{100};
  /// Hears the checkpoint's model and mark when the run resumes, before the first batch.
  std::function<void(const factor_model& model, const stream_mark& mark)> on_resume{};

  // What monitoring uses (job/stream_monitoring.hpp); any placement.
  /// Hears each batch's engine measurements (latency, traffic per edge) right after its
  /// report; `report` is what on_batch heard (numbers continue a resumed run).
  std::function<void(const stream_report& report, const batch_metrics& m)> on_metrics{};
  /// Hears the path of every checkpoint written.
  std::function<void(const std::string& path)> on_checkpoint{};
};

/// What a streaming run produced.
struct stream_job_result {
  std::vector<stream_report> reports;  ///< this run's batches; numbers continue a resumed run
  factor_model model;                  ///< the model after the last batch
  stream_mark mark;                    ///< everything applied since the stream began
  std::uint64_t added_ratings = 0;     ///< ratings wrap_source added (see wrap_source)
  std::optional<std::string> resumed_from;  ///< the checkpoint file this run started from
  std::vector<std::string> checkpoints_written;
  /// Periodic checkpoints that could not be written (each noted; training went on). The
  /// one at the end must be written, or the run fails.
  std::uint64_t checkpoints_failed = 0;
};

/// Hears what a user should know: a corrupt checkpoint skipped, where a run resumed, a
/// checkpoint that could not be written.
using note_callback = std::function<void(const std::string&)>;

/// Streams `job.input` through a graph laid out as `job` says, reporting every batch to
/// `on_batch`; the options are checked first ("partition count must be positive, got 0").
result<stream_job_result> run_stream_job(const stream_job_options& job,
                                         const stream_callback& on_batch = {},
                                         const note_callback& on_note = {});

}  // namespace recflow
