#include "engine/snapshot.hpp"

#include <algorithm>
#include <cmath>

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

namespace {

/// Where one entity of the test set lives: its shard's store and local key.
struct located {
  const shard_store* store = nullptr;
  std::uint32_t key = 0;
  bool known() const noexcept { return store != nullptr && store->count(key) > 0; }
};

std::vector<located> locate(const id_map& ids, const std::vector<const shard_store*>& stores,
                            const partitioner& part) {
  std::vector<located> out(ids.size());
  for (index_t j = 0; j < ids.size(); ++j) {
    auto id = ids.external(j);
    const auto* store = stores[part(id)];
    auto key = store->find(id);
    if (key != id_map::npos)
      out[j] = {store, key};
  }
  return out;
}

}  // namespace

error_metrics evaluate_shards(const rating_table& test, double mu, rating_scale scale,
                              const std::vector<const shard_store*>& users,
                              const partitioner& user_part,
                              const std::vector<const shard_store*>& items,
                              const partitioner& item_part) {
  auto us = locate(test.users, users, user_part);
  auto is = locate(test.items, items, item_part);
  using row = Eigen::Map<const Eigen::VectorXd>;
  double se = 0.0, ae = 0.0;
  for (const auto& r : test.ratings) {
    // factor_model::predict, on the shards' rows.
    located u = r.user < us.size() ? us[r.user] : located{};
    located i = r.item < is.size() ? is[r.item] : located{};
    double p = mu;
    if (u.known() && i.known()) {
      auto k = static_cast<Eigen::Index>(u.store->rank());
      p = mu + u.store->bias(u.key) + i.store->bias(i.key)
          + row(u.store->row(u.key), k).dot(row(i.store->row(i.key), k));
    } else if (u.known()) {
      p += u.store->bias(u.key);
    } else if (i.known()) {
      p += i.store->bias(i.key);
    }
    if (!std::isfinite(p))
      p = mu;
    double e = scale.clamp(p) - r.value;
    se += e * e;
    ae += std::abs(e);
  }
  error_metrics m;
  m.count = test.ratings.size();
  if (m.count > 0) {
    m.rmse = std::sqrt(se / static_cast<double>(m.count));
    m.mae = ae / static_cast<double>(m.count);
  }
  return m;
}

}  // namespace recflow

namespace recflow {

seed_split split_model(const factor_model& m, std::size_t partitions, const partitioner& users,
                       const partitioner& items) {
  auto k = std::size_t(m.rank());
  auto split = [&](const id_map& ids, const std::vector<double>& bias, const factor_table& f,
                   const std::vector<std::uint32_t>& counts, const partitioner& part,
                   std::uint8_t side_tag) {
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
  return {split(m.users(), m.user_bias(), m.U(), m.user_count(), users, 0),
          split(m.items(), m.item_bias(), m.P(), m.item_count(), items, 1)};
}

}  // namespace recflow
