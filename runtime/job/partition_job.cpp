#include "recflow/job/partition_job.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "recflow/graph/partition_plan.hpp"

namespace recflow {

result<std::vector<std::size_t>> parse_partition_counts(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
      n = std::stoull(part, &used);
    } catch (...) {
      used = 0;
    }
    if (used != part.size() || n == 0 || n > 4096)
      return error{errc::invalid_argument,
                   "--partitions wants counts in 1..4096 like 2,4,8,16, got '" + text + "'"};
    out.push_back(std::size_t(n));
  }
  if (out.empty())
    return error{errc::invalid_argument, "--partitions is empty"};
  return out;
}

result<std::vector<std::string>> parse_partition_strategies(const std::string& text) {
  if (text == "all")
    return partition_strategies();
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  const auto& known = partition_strategies();
  while (std::getline(in, part, ',')) {
    if (std::find(known.begin(), known.end(), part) == known.end())
      return error{errc::invalid_argument, "unknown --strategy '" + part + "' (all, or any of "
                                             "hash-user, hash-item, range, random, grid, degree, consistent)"};
    out.push_back(part);
  }
  return out;
}

partition_data partition_data::from_table(rating_table t, const std::string& file) {
  partition_data d;
  d.users = t.users;
  d.items = t.items;
  d.name = fmt::format("{}: {} ratings, {} users, {} items (file order)", file, t.size(),
                       t.users.size(), t.items.size());
  d.table = std::move(t);
  return d;
}

result<partition_data> partition_data::synthetic_ratings(std::uint64_t n, std::uint64_t seed) {
  auto p = power_law_params::for_ratings(n, seed);
  if (auto ok = validate(p); !ok)
    return ok.err();
  partition_data d;
  d.synthetic.emplace(p);
  d.users = d.synthetic->user_ids();
  d.items = d.synthetic->item_ids();
  d.name = fmt::format("power-law synthetic: {} ratings, {} users (Zipf {}), {} items (Zipf {}), seed {}",
                       n, p.users, p.user_exponent, p.items, p.item_exponent, p.seed);
  return d;
}

rating_table partition_data::first(std::size_t n) {
  rating_table t;
  synthetic->restart();
  synthetic->next(t.ratings, n);
  t.users = users;
  t.items = items;
  return t;
}

result<std::vector<partition_cost>> simulate_partitions(partition_data& d,
                                                        const std::vector<std::size_t>& counts,
                                                        const std::vector<std::string>& strategies,
                                                        const cost_model& cost,
                                                        std::size_t batch_size) {
  key_degrees deg(d.users.size(), d.items.size());
  d.for_each_batch(1 << 16, [&](std::span<const rating> b) { deg.add(b); });
  std::vector<partition_plan> plans;
  std::vector<std::uint64_t> moved;
  for (auto n : counts)
    for (const auto& s : strategies) {
      auto plan = make_plan(s, n, d.users, d.items, deg.users, deg.items);
      auto grown = make_plan(s, n + 1, d.users, d.items, deg.users, deg.items);
      if (!plan || !grown)
        return plan ? grown.err() : plan.err();
      moved.push_back(keys_moved(*plan, *grown));
      plans.push_back(std::move(*plan));
    }
  cost_simulator sim(std::move(plans), d.users.size(), d.items.size(), cost);
  d.for_each_batch(batch_size, [&](std::span<const rating> b) { sim.add(b); });
  auto costs = sim.results();
  for (std::size_t k = 0; k < costs.size(); ++k)
    costs[k].keys_moved = moved[k];
  return costs;
}

}  // namespace recflow
