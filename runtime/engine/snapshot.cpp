#include "engine/snapshot.hpp"

#include <algorithm>

namespace recflow {

namespace {

/// Appends one side's keys, in first-seen order, to the model parts.
void gather(const std::vector<shard_parts>& shards, std::size_t rank, id_map& ids,
            std::vector<double>& bias, std::vector<double>& factors,
            std::vector<std::uint32_t>& counts) {
  struct ref {
    std::uint64_t first_seen;
    std::uint32_t shard, key;
  };
  std::vector<ref> order;
  for (std::uint32_t s = 0; s < shards.size(); ++s)
    for (std::uint32_t k = 0; k < shards[s].ids.size(); ++k)
      order.push_back({shards[s].first_seen[k], s, k});
  std::sort(order.begin(), order.end(), [](const ref& a, const ref& b) {
    return a.first_seen < b.first_seen;
  });
  ids.reserve(order.size());
  for (const auto& r : order) {
    const auto& p = shards[r.shard];
    ids.insert(p.ids[r.key]);
    bias.push_back(p.bias[r.key]);
    counts.push_back(p.counts[r.key]);
    auto row = p.factors.begin() + static_cast<std::ptrdiff_t>(std::size_t(r.key) * rank);
    factors.insert(factors.end(), row, row + static_cast<std::ptrdiff_t>(rank));
  }
}

}  // namespace

result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_parts>& users,
                                    const std::vector<shard_parts>& items) {
  factor_model::parts p;
  p.rank = rank;
  p.scale = scale;
  p.mu = mu;
  p.mu_count = mu_count;
  auto k = std::size_t(rank);
  gather(users, k, p.users, p.user_bias, p.U, p.user_count);
  gather(items, k, p.items, p.item_bias, p.P, p.item_count);
  return factor_model::from_parts(std::move(p));
}

}  // namespace recflow
