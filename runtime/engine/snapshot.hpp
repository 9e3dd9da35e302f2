/// Assembling one factor_model from the shards the owners export.
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// A model from shard parts: keys of each side ordered by the stream position of their
/// first rating, which is exactly the order in which a single streaming_trainer would
/// have added them, so the result compares index by index with the reference.
result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_parts>& users,
                                    const std::vector<shard_parts>& items);
/// The same from the shards' tables where they are (shard_store::columns while their
/// owners hold): no copy of a shard beside the model.
result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_columns>& users,
                                    const std::vector<shard_columns>& items);

/// A model cut into the owners' seed parts: user shard s gets the users `users` maps to
/// it, each with its dense index as first_seen and key_base = the side's key count (so
/// keys the stream adds later order after every seeded key). What local_engine and
/// cluster_engine load into their owners from a seed model or a checkpoint.
struct seed_split {
  std::vector<seed_shard> users, items;
};
seed_split split_model(const factor_model& m, std::size_t partitions, const partitioner& users,
                       const partitioner& items);

}  // namespace recflow
