// The load side of live_monitor: ratings per factor-owner shard (since the start and in
// the last batch), how uneven they are, and the batches in flight.
#include "recflow/serve/monitor.hpp"

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

namespace recflow::serve {

double max_over_mean(const std::vector<std::uint64_t>& load) noexcept {
  auto total = std::accumulate(load.begin(), load.end(), 0.0);
  if (load.empty() || total <= 0)
    return 1.0;
  return double(*std::max_element(load.begin(), load.end())) / (total / double(load.size()));
}

namespace {
constexpr const char* side_names[2] = {"user", "item"};
}  // namespace

/// Messages and bytes per edge (each edge's two counters registered at its first batch).
void live_monitor::count_edges_locked(const std::vector<edge_point>& edges) {
  for (const auto& e : edges) {
    auto it = edge_counters_.find(e.name);
    if (it == edge_counters_.end())
      it = edge_counters_
             .emplace(e.name,
                      std::pair{&registry_.counter("recflow_edge_messages_total",
                                                   "Messages sent on a graph edge", {{"edge", e.name}}),
                                &registry_.counter("recflow_edge_bytes_total",
                                                   "Bytes sent on a graph edge", {{"edge", e.name}})})
             .first;
    it->second.first->add(double(e.messages));
    it->second.second->add(double(e.bytes));
  }
}

/// Counters per shard and the imbalance gauges (registered at a side's first batch).
void live_monitor::count_shards_locked(const batch_point& p) {
  const std::vector<std::uint64_t>* batch[2] = {&p.user_shards, &p.item_shards};
  if (p.in_flight)
    in_flight_ = p.in_flight;
  for (int side = 0; side < 2; ++side) {
    const auto& load = *batch[side];
    if (load.empty())
      continue;
    auto& total = shard_total_[side];
    if (total.size() < load.size())
      total.resize(load.size(), 0);
    auto& counters = shard_counters_[side];
    for (std::size_t s = counters.size(); s < load.size(); ++s)  // once per shard
      counters.push_back(&registry_.counter(
        "recflow_shard_ratings_total", "Ratings applied by a factor owner (side user or item, shard number)",
        {{"side", side_names[side]}, {"shard", std::to_string(s)}}));
    for (std::size_t s = 0; s < load.size(); ++s) {
      total[s] += load[s];
      counters[s]->add(double(load[s]));
    }
    shard_last_[side] = load;
    if (!imbalance_[side])
      imbalance_[side] = &registry_.gauge(
        "recflow_shard_imbalance_ratio",
        "Ratings of the busiest shard of a side over the mean of its shards, since the start",
        {{"side", side_names[side]}});
    imbalance_[side]->set(max_over_mean(total));
  }
}

/// {"user": {"total": [...], "last": [...], "max_over_mean": x}, "item": {...},
///  "in_flight": n}; sides without measurements are left out, in_flight is null then.
std::string live_monitor::shards_json_locked() const {
  nlohmann::json j = nlohmann::json::object();
  for (int side = 0; side < 2; ++side)
    if (!shard_total_[side].empty())
      j[side_names[side]] = {{"total", shard_total_[side]},
                             {"last", shard_last_[side]},
                             {"max_over_mean", max_over_mean(shard_total_[side])},
                             {"last_max_over_mean", max_over_mean(shard_last_[side])}};
  j["in_flight"] = in_flight_ ? nlohmann::json(*in_flight_) : nlohmann::json(nullptr);
  return j.dump();
}

}  // namespace recflow::serve
