/// The options of every actor graph of owners, with defaults: batch ALS's blocks
/// (als_graph_options) and streaming implicit ALS's owners (implicit_graph_options) are
/// this one struct; and hash partitioning by default.
#pragma once

#include <chrono>
#include <cstddef>

#include "recflow/engine/thread_priority.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// How an owner graph runs.
struct owner_graph_options {
  std::size_t partitions = 2;  ///< owners (batch ALS: blocks) per side
  std::size_t workers = 2;     ///< CAF scheduler threads
  /// Owner of a user / an item by external id; empty means hash partitioning (the item
  /// side salted, as the streaming graph does). Must have `partitions` partitions.
  partitioner user_partitioner{}, item_partitioner{};
  /// The run fails with "no progress for N ms" if no owner reports for this long.
  std::chrono::milliseconds stall_timeout{120'000};
  /// Priority of the scheduler's threads (`stream --serve`'s --training-nice).
  thread_priority priority{};
};

/// "partitions must be positive, got 0", "workers must be positive, got 0", "stall timeout
/// must be positive, got 0 ms", "user partitioner has 3 partitions, the graph has 2".
result<void> validate(const owner_graph_options& o);

/// `given`, or hash partitioning into `partitions` (the item side salted, as the streaming
/// graph partitions).
partitioner user_partitioner_or_hash(const partitioner& given, std::size_t partitions);
partitioner item_partitioner_or_hash(const partitioner& given, std::size_t partitions);

}  // namespace recflow
