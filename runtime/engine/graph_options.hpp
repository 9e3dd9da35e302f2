/// What the options of every actor graph of owners share (batch ALS's blocks, streaming
/// implicit ALS's owners): the checks of the shape, and hash partitioning by default.
#pragma once

#include <chrono>
#include <cstddef>

#include "recflow/graph/partitioner.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// "partitions must be positive, got 0", "workers must be positive, got 0", "stall timeout
/// must be positive, got 0 ms", "user partitioner has 3 partitions, the graph has 2".
result<void> validate_graph_shape(std::size_t partitions, std::size_t workers,
                                  std::chrono::milliseconds stall_timeout,
                                  const partitioner& users, const partitioner& items);

/// `given`, or hash partitioning into `partitions` (the item side salted, as the streaming
/// graph partitions).
partitioner user_partitioner_or_hash(const partitioner& given, std::size_t partitions);
partitioner item_partitioner_or_hash(const partitioner& given, std::size_t partitions);

}  // namespace recflow
