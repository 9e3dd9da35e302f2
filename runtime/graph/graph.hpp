/// The streaming dataflow as data: what runs, how each edge is partitioned, what is
/// trained and evaluated. Built first, validated, then handed to an engine to run.
///
///   source --(stay local)--> partition --(exchange by user)--> user owners
///                                      \-(exchange by item)--> item owners
///   user owners --(rows U_u, b_u per block)--> item owners  [join: ratings with user factors]
///   item owners --(errors, rows P_i, b_i)----> user owners  [join: with item factors]
///   owners: aggregate per-rating gradients by key in batch order, apply once per pass
///   evaluation: after each batch, on a snapshot assembled from the owners
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recflow/graph/partitioner.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/ratings.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// How an edge moves a rating (or a row) from one step to the next.
enum class exchange {
  local,    ///< stays with the sender (no partitioning)
  by_user,  ///< to the partition owning the rating's user
  by_item,  ///< to the partition owning the rating's item
  reply,    ///< back to the partition that asked (the join's answer)
};
const char* to_string(exchange e) noexcept;

/// One edge of the graph, for descriptions and per-edge metrics.
struct graph_edge {
  std::string from;
  std::string to;
  exchange how = exchange::local;
};

/// Evaluation after batches: RMSE and MAE of a snapshot on a held-out set (ids are
/// matched by external id, so `validation` may use its own id space).
struct evaluation_options {
  std::shared_ptr<const rating_table> validation;  ///< required when evaluating
  std::size_t every = 1;                           ///< evaluate after every n-th batch
};

/// The streaming-training graph. Defaults: 2 partitions, hash partitioning by user and
/// by item, the default stream_params (batch_gradient), no evaluation.
struct streaming_graph {
  std::shared_ptr<rating_source> source;     ///< required: where micro-batches come from
  std::size_t partitions = 2;                ///< shards of U (and of P)
  partitioner user_partitioner = hash_partitioner{2};  ///< the "exchange by user" edge
  partitioner item_partitioner = hash_partitioner{2, 0x51ed};  ///< the "exchange by item" edge
  stream_params training;                    ///< must use update_mode::batch_gradient
  rating_scale scale;                        ///< the model's scale (predictions are clamped)
  std::optional<evaluation_options> evaluation;
  /// A trained model the stream continues from (e.g. batch ALS, or a checkpoint): its
  /// rows are loaded into the owners before the first batch and the running mean goes on
  /// from its mu and mu_count, as a streaming_trainer built from it does. Its rank must
  /// equal training.rank and its scale the graph's. Null: start from an empty model.
  std::shared_ptr<const factor_model> seed_model{};
  /// When set with `evaluation`, receives each evaluated snapshot (batch number, 1-based,
  /// and the model as of that batch: consistent, never half a batch), e.g. to serve it.
  /// Called on the engine's driving thread: it should hand the model over and return.
  std::function<void(std::uint64_t batch, factor_model&& model)> on_model{};
  /// With on_model: hand over a model at most this often (a batch routed at least this
  /// long after the last handed-over one is handed over when it completes); 0: every
  /// batch. Independent of `evaluation`: a model handed over is never evaluated for it.
  std::chrono::milliseconds publish_interval{0};

  /// The edges as the engine runs them, in data order (names used in metrics).
  std::vector<graph_edge> edges() const;
  /// A few lines describing the graph (nodes, partitioners, parameters).
  std::string describe() const;
};

/// A graph over `source` with hash partitioning into `partitions` shards on both edges.
streaming_graph make_streaming_graph(std::shared_ptr<rating_source> source,
                                     const stream_params& training, std::size_t partitions = 2,
                                     rating_scale scale = {});

/// Checks a graph before it runs: "graph has no source", "partition count must be
/// positive, got 0", "user partitioner has 3 partitions, graph has 2", and the
/// training parameters (see validate(stream_params)).
result<void> validate(const streaming_graph& g);

}  // namespace recflow
