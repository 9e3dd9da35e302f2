/// Streaming implicit ALS as `recflow stream --implicit` runs it: each user's latest event
/// held out (leave-latest-out), the rest streamed in micro-batches through the actor graph
/// or the reference loop (the same model), HR@k and NDCG@k against sampled negatives after
/// every `eval_every` batches, and the popularity baseline on the final model.
///
///   implicit_stream_job_options o;        // the shipped defaults
///   auto r = run_implicit_stream_job(events, o, [](const implicit_batch_report& b) { ... });
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recflow/engine/implicit_graph.hpp"
#include "recflow/job/als_job.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/split.hpp"

namespace recflow {

/// What the run does, and where the stream trains (als_placement: the reference, the graph here, or the graph's
/// owners on `nodes`, implicit_cluster.hpp), with defaults.
struct implicit_stream_job_options : als_placement {
  implicit_stream_params params{};
  sampled_ranking_options ranking{};    ///< k, negatives, seed (the ranker is set per score)
  std::uint64_t split_seed = 42;        ///< leave-latest-out among ties
  std::size_t batch_size = 1000;        ///< events per micro-batch
  /// Events in time order by default: a stream carries them as they happened, and the
  /// held-out events are each user's latest.
  stream_order order = stream_order::time;
  std::uint64_t order_seed = 42;        ///< with stream_order::random
  std::size_t eval_every = 1;           ///< score after every n-th batch (and the last)
  std::size_t max_batches = 0;          ///< stop after this many (0: all)
  std::shared_ptr<const factor_model> seed{};  ///< continue from this model (null: empty)

  // What a server beside the stream uses (stream_serving::attach), as stream_job_options.
  /// Wraps the input, e.g. serve::stream_link: events posted to a server join the next
  /// micro-batch (a table's batches then come through it too).
  std::function<std::shared_ptr<rating_source>(std::shared_ptr<rating_source>)> wrap_source{};
  /// Receives the model after a batch, its users and items in the order they first
  /// appeared (later models only append keys); the last model is not necessarily handed
  /// over: see the result's model.
  std::function<void(std::uint64_t batch, factor_model&& model)> on_model{};
  /// With on_model: hand over a model at most this often; 0: after every batch.
  std::chrono::milliseconds publish_interval{100};
};

/// "batch size must be positive, got 0" and friends.
result<void> validate(const implicit_stream_job_options& o);

/// After each batch.
struct implicit_batch_report {
  std::uint64_t batch = 0;        ///< 1-based
  std::size_t events = 0;         ///< in this batch
  std::size_t streamed = 0;       ///< so far
  double seconds = 0.0;           ///< the update of this batch
  std::optional<sampled_ranking_metrics> ranking{};  ///< when scored after this batch
};

/// What the run measured.
struct implicit_stream_result {
  factor_model model;
  std::size_t train_events = 0;   ///< streamed
  std::size_t held_out = 0;
  std::uint64_t batches = 0;
  sampled_ranking_metrics ranking{};     ///< the final model
  sampled_ranking_metrics popularity{};  ///< item popularity, same negatives
  double stream_seconds = 0.0;           ///< the updates alone (no scoring)
};

/// Splits `events` (one per (user, item) pair: see read_events), streams the training part
/// and scores it; `on_batch` after every batch.
result<implicit_stream_result> run_implicit_stream_job(
  const rating_table& events, const implicit_stream_job_options& o,
  const std::function<void(const implicit_batch_report&)>& on_batch = {});

/// Input: a live source of events (weights in rating_event::value; a rating file's
/// replay with `threshold`), and events to score after every eval_every-th batch.
struct implicit_source_input {
  std::shared_ptr<rating_source> source;
  /// Ratings >= this become events of weight 1, the others are dropped (as
  /// `--implicit-threshold` reads a file); unset: each record's value is its weight.
  std::optional<double> threshold{};
  /// Held-out events (one per user, e.g. a leave-latest-out test file) scored as the table
  /// job scores its own; null: nothing is scored (the result's figures stay 0).
  std::shared_ptr<const rating_table> held_out{};
};

/// Streams `in.source` until it ends, with `o`'s parameters, engine and seed (its split,
/// order and batch size are the source's business); acknowledges each batch's position
/// once applied (rating_source::applied). `on_batch` after every batch.
result<implicit_stream_result> run_implicit_source_job(
  const implicit_source_input& in, const implicit_stream_job_options& o,
  const std::function<void(const implicit_batch_report&)>& on_batch = {});

/// What `recflow compare --implicit` measured: batch implicit ALS and the stream on the
/// same leave-latest-out split, scored against the same sampled negatives, and the
/// stream's figures after every batch.
struct implicit_compare_result {
  sampled_ranking_metrics batch{};       ///< batch implicit ALS
  double batch_seconds = 0.0;            ///< its training
  implicit_stream_result stream{};
  std::vector<implicit_batch_report> reports{};  ///< every batch of the stream
};

/// Runs both with `stream.params.als` for batch ALS too (its iterations included), the
/// split, negatives and seeds of `stream`; `on_batch` after every batch of the stream.
result<implicit_compare_result> run_implicit_compare(
  const rating_table& events, const implicit_stream_job_options& stream,
  const std::function<void(const implicit_batch_report&)>& on_batch = {});

/// The saved model's metadata (trainer "implicit-stream", the parameters, HR and NDCG).
model_metadata implicit_stream_metadata(const implicit_stream_job_options& o,
                                        const std::string& data, const implicit_stream_result& r);
/// The parameters alone: what a server beside the stream shows before it ends.
model_metadata implicit_stream_metadata(const implicit_stream_job_options& o,
                                        const std::string& data);

}  // namespace recflow
