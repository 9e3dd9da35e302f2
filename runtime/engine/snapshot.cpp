#include "recflow/engine/snapshot.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace recflow {

namespace {

/// Appends one side's keys, in first-seen order, to the model parts.
void gather(const std::vector<shard_columns>& shards, std::size_t rank, id_map& ids,
            std::vector<double>& bias, std::vector<float>& factors,
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
  // Each table at its final size at once: grown by doubling, the factors would hold up to
  // twice the model for a moment (the final snapshot of a stream is its peak of memory).
  ids.reserve(order.size());
  bias.reserve(bias.size() + order.size());
  counts.reserve(counts.size() + order.size());
  factors.reserve(factors.size() + order.size() * rank);
  for (const auto& r : order) {
    const auto& p = shards[r.shard];
    ids.insert(p.ids[r.key]);
    bias.push_back(p.bias[r.key]);
    counts.push_back(p.counts[r.key]);
    const float* row = p.factors.data() + std::size_t(r.key) * rank;
    factors.insert(factors.end(), row, row + rank);
  }
}

/// A part whose tables disagree in size (e.g. from a faulty node) is an error, not a read
/// past its end.
result<void> check_parts(const std::vector<shard_columns>& shards, std::size_t rank,
                         const char* side) {
  for (const auto& p : shards) {
    auto n = p.ids.size();
    if (p.first_seen.size() != n || p.counts.size() != n || p.bias.size() != n
        || p.factors.size() != n * rank)
      return error{errc::corrupt, std::string("a malformed snapshot part of ") + side + " shard "
                                    + std::to_string(p.shard) + ": tables disagree in size with its "
                                    + std::to_string(n) + " ids"};
  }
  return {};
}

}  // namespace

result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_parts>& users,
                                    const std::vector<shard_parts>& items) {
  auto of = [](const std::vector<shard_parts>& parts) {
    std::vector<shard_columns> out;
    out.reserve(parts.size());
    for (const auto& p : parts)
      out.push_back(columns(p));
    return out;
  };
  return assemble_model(rank, scale, mu, mu_count, of(users), of(items));
}

result<factor_model> assemble_model(int rank, rating_scale scale, double mu,
                                    std::uint64_t mu_count, const std::vector<shard_columns>& users,
                                    const std::vector<shard_columns>& items) {
  factor_model::parts p;
  p.rank = rank;
  p.scale = scale;
  p.mu = mu;
  p.mu_count = mu_count;
  auto k = std::size_t(rank);
  if (auto ok = check_parts(users, k, "user"); !ok)
    return ok.err();
  if (auto ok = check_parts(items, k, "item"); !ok)
    return ok.err();
  gather(users, k, p.users, p.user_bias, p.U, p.user_count);
  gather(items, k, p.items, p.item_bias, p.P, p.item_count);
  return factor_model::from_parts(std::move(p));
}

}  // namespace recflow

namespace recflow {

seed_split split_model(const factor_model& m, std::size_t partitions, const partitioner& users,
                       const partitioner& items) {
  auto k = std::size_t(m.rank());
  auto split = [&](const id_map& ids, const std::vector<double>& bias, const factor_table& f,
                   const std::vector<std::uint32_t>& counts, const partitioner& part,
                   side side_tag) {
    std::vector<seed_shard> out(partitions);
    for (std::uint32_t s = 0; s < partitions; ++s) {
      out[s].key_base = ids.size();
      out[s].parts.side = side_tag;
      out[s].parts.shard = s;
    }
    for (index_t j = 0; j < ids.size(); ++j) {
      auto& p = out[part(ids.external(j))].parts;
      p.ids.push_back(ids.external(j));
      p.first_seen.push_back(j);
      p.counts.push_back(counts[j]);
      p.bias.push_back(bias[j]);
      auto row = f.row(j);
      p.factors.insert(p.factors.end(), row.data(), row.data() + k);
    }
    return out;
  };
  return {split(m.users(), m.user_bias(), m.U(), m.user_count(), users, side::user),
          split(m.items(), m.item_bias(), m.P(), m.item_count(), items, side::item)};
}

}  // namespace recflow
