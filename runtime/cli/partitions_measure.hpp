/// `recflow partitions --measure`: the same strategies run for a few real batches on the
/// local engine, their measured owner loads and edge traffic printed beside the simulation.
#pragma once

#include <string>
#include <vector>

#include "recflow/engine/partition_measure.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow::cli {

/// Measures every strategy in `strategies` that can sit on the engine's edges (all but
/// grid; hash-item has the same edges as hash-user) at each count; prints a table and
/// returns false if any measured figure disagrees with the simulation or the size model.
result<bool> measure_and_compare(const rating_table& data, const std::vector<std::string>& strategies,
                                 const std::vector<std::size_t>& counts, const measure_options& o);

}  // namespace recflow::cli
