/// The second way to see what a partitioning costs: run a few real training batches on the
/// local engine with the given edge partitioners and read what it measured (messages and
/// bytes per edge, ratings per owner), next to what the engine's message sizes predict
/// from the simulation's counts (model/partition_cost.hpp).
///
/// What the local engine's bytes mean: in one process the owners share factor rows by
/// pointer, so an edge's bytes are the message headers plus, per rating, its route
/// (slices), its slot (pass 0) and its error (each pass). They depend on n and the ratings,
/// not on which keys share a partition; the strategies differ in rows fetched, which only
/// an engine that serializes rows (across processes) would send.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/local_engine.hpp"
#include "engine/metrics.hpp"
#include "graph/partitioner.hpp"
#include "model/ratings.hpp"

namespace recflow {

/// How many batches to run and how.
struct measure_options {
  std::size_t batch_size = 1000;
  std::size_t batches = 5;       ///< real micro-batches to train (fewer if the data ends)
  stream_params training;        ///< batch_gradient; its passes shape the traffic
  engine_options engine;
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
/// measure_partitions against.
std::array<edge_traffic, edge_count> predict_engine_traffic(
  const std::vector<std::uint64_t>& batch_sizes, std::size_t partitions, int passes);

}  // namespace recflow
