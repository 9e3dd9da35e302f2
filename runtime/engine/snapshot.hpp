/// Assembling one factor_model from the shards the owners export.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/messages.hpp"
#include "model/error.hpp"
#include "model/model.hpp"

namespace recflow {

/// A model from shard parts: keys of each side ordered by the stream position of their
/// first rating, which is exactly the order in which a single streaming_trainer would
/// have added them, so the result compares index by index with the reference.
result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_parts>& users,
                                    const std::vector<shard_parts>& items);

}  // namespace recflow
