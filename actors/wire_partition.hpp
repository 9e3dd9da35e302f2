/// The partition step for owners in other processes: routes each batch as partition_state
/// does and ships every slice as one wire frame (graph/wire.hpp) instead of a vector of
/// structs. It runs beside the driver's source; its traffic counts the frames' bytes.
#pragma once

#include <vector>

#include <caf/all.hpp>

#include "recflow/graph/partitioner.hpp"

namespace recflow {

/// Spawns a partition actor routing stamped batches to `users` and `items` as wire
/// frames and reporting a partition_done per batch to `coordinator`.
caf::actor spawn_wire_partition(caf::actor_system& sys, partitioner by_user, partitioner by_item,
                                std::vector<caf::actor> users, std::vector<caf::actor> items,
                                caf::actor coordinator);

}  // namespace recflow
