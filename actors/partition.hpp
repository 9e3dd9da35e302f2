/// Partition: routes each rating of a stamped batch to the user owner and the item owner
/// of its keys (the graph's "exchange by user" and "exchange by item" edges), keeping
/// batch order within every slice.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/messages.hpp"
#include "recflow/graph/partitioner.hpp"

namespace recflow {

/// The logic of the partition step, callable without an actor system.
class partition_state {
 public:
  partition_state(partitioner by_user, partitioner by_item)
    : by_user_(std::move(by_user)), by_item_(std::move(by_item)) {}

  /// One slice per user owner and one per item owner (every owner gets one, maybe empty:
  /// an owner's slice is what tells it the batch exists).
  struct slices {
    std::vector<user_slice> users;
    std::vector<item_slice> items;
  };
  slices split(const stamped_batch& b);

 private:
  partitioner by_user_, by_item_;
  /// split()'s scratch, kept across batches: each rating's user and item shard.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> shards_;
};

/// Spawns a partition actor routing to `users` and `items` and reporting traffic to
/// `coordinator`.
caf::actor spawn_partition(caf::actor_system& sys, partitioner by_user, partitioner by_item,
                           std::vector<caf::actor> users, std::vector<caf::actor> items,
                           caf::actor coordinator);

}  // namespace recflow
