/// What the engine measures: per-batch latency, throughput, traffic per edge and load per
/// shard.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "recflow/actors/messages.hpp"

namespace recflow {

/// The graph's edges in the order of streaming_graph::edges().
enum class edge_index : std::size_t {
  source_to_partition,
  partition_to_users,
  partition_to_items,
  users_to_items,
  items_to_users,
};
inline constexpr std::size_t edge_count = 5;

/// One completed micro-batch (every owner has applied every pass).
struct batch_metrics {
  std::uint64_t batch = 0;            ///< 1-based batch number
  std::uint64_t ratings = 0;          ///< ratings in this batch
  std::uint64_t ratings_seen = 0;     ///< ratings streamed so far, this batch included
  double latency_seconds = 0.0;       ///< from routing the batch to its last owner's report
  double ratings_per_second = 0.0;    ///< ratings / latency
  double owner_busy_seconds = 0.0;    ///< summed handler time of all owners for this batch
  std::array<edge_traffic, edge_count> edges{};  ///< messages and bytes per edge
  /// Ratings each owner applied in this batch, by shard (index = shard number): the load
  /// of the user owners (the partition's exchange by user) and of the item owners.
  std::vector<std::uint64_t> user_shard_ratings, item_shard_ratings;
  /// Batches the source had handed over that were not yet applied when this one was,
  /// this one included (at most the engine's max_in_flight).
  std::size_t in_flight = 0;
  std::optional<double> rmse, mae;    ///< when the graph evaluates after this batch
  std::string position;               ///< the source's position after this batch
};

/// A whole run (one call of run / run_n / run_until).
struct run_summary {
  std::uint64_t batches = 0;
  std::uint64_t ratings = 0;
  double seconds = 0.0;
  double ratings_per_second = 0.0;
  std::size_t max_in_flight_seen = 0;  ///< most batches between source and completion
  bool end_of_stream = false;          ///< the source is exhausted
};

}  // namespace recflow
