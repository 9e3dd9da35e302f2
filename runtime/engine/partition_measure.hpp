/// The second way to see what a partitioning costs: run a few real training batches on the
/// local engine with the given edge partitioners and read what it measured (messages and
/// bytes per edge, ratings per owner), next to what the engine's message sizes predict
/// from the simulation's counts (graph/partition_cost.hpp).
///
/// The owners run with their rows serialized (engine_options::frame_rows): each pass, user
/// owner s sends item owner t one wire frame with the distinct user rows of block (s, t),
/// and t answers with the errors and its distinct item rows, as between the nodes of a
/// multi-node job. So the owner edges' bytes are what crossing machines would cost, and
/// their rows sent to another shard number are what the simulation calls fetched: item
/// rows for a partition placed by user (user shard s and item shard s together), user
/// rows for one placed by item. Without frames (`frames = false`) rows are shared by
/// pointer and an edge's bytes depend on n and the ratings only.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/metrics.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// How many batches to run and how.
struct measure_options {
  std::size_t batch_size = 1000;
  std::size_t batches = 5;       ///< real micro-batches to train (fewer if the data ends)
  stream_params training;        ///< batch_gradient; its passes shape the traffic
  engine_options engine;         ///< frame_rows is set from `frames`
  bool frames = true;            ///< serialize owner-to-owner rows (see the file comment)
};

/// What the engine did over the batches it ran.
struct partition_measurement {
  std::uint64_t batches = 0, ratings = 0;
  std::array<edge_traffic, edge_count> edges{};          ///< summed over the batches
  std::vector<std::uint64_t> user_owner_ratings;         ///< per user owner, from its counts
  std::vector<std::uint64_t> item_owner_ratings;         ///< per item owner, from its counts
  double seconds = 0.0;
};

/// Trains the first `o.batches` batches of `data` (stored order) on a local engine whose
/// "exchange by user" edge uses `by_user` and "by item" edge `by_item` (same partition
/// count), then reads the per-edge metrics and the snapshot's per-key rating counts.
result<partition_measurement> measure_partitions(const rating_table& data, partitioner by_user,
                                                 partitioner by_item, const measure_options& o);

/// The per-edge traffic the engine's message sizes predict for `batch_sizes` (ratings per
/// batch) at `partitions` owners per side and `passes` passes: the model the test checks
/// measure_partitions against. Messages for every edge; bytes for the unframed engine
/// (with frames, the owner edges' bytes are framed_owner_bytes).
std::array<edge_traffic, edge_count> predict_engine_traffic(
  const std::vector<std::uint64_t>& batch_sizes, std::size_t partitions, int passes);

/// The bytes of an owner edge (users_to_items or items_to_users) that ran with frames,
/// from its messages and rows and the ratings of the batches (graph/wire.hpp's sizes).
std::uint64_t framed_owner_bytes(edge_index e, const edge_traffic& t, std::uint64_t ratings,
                                 int passes, int rank);

}  // namespace recflow
