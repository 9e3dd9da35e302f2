#include "cli/partitions_measure.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "recflow/graph/partition_plan.hpp"

namespace recflow::cli {

namespace {

double imbalance(const std::vector<std::uint64_t>& per) {
  std::uint64_t sum = 0, mx = 0;
  for (auto v : per) {
    sum += v;
    mx = std::max(mx, v);
  }
  return sum ? double(mx) * double(per.size()) / double(sum) : 0.0;
}

}  // namespace

result<bool> measure_and_compare(const rating_table& data, const std::vector<std::string>& strategies,
                                 const std::vector<std::size_t>& counts, const measure_options& o) {
  key_degrees d(data.users.size(), data.items.size());
  d.add(data.ratings);
  auto used = std::min<std::size_t>(data.size(), o.batch_size * o.batches);
  auto first = std::span<const rating>(data.ratings).first(used);
  std::vector<std::uint64_t> sizes;
  for (std::size_t at = 0; at < used; at += o.batch_size)
    sizes.push_back(std::min(o.batch_size, used - at));
  std::cout << fmt::format("measured on the local engine: {} batches of {} ratings, rank {}, {} pass(es){}\n",
                           sizes.size(), o.batch_size, o.training.rank, o.training.passes,
                           o.frames ? ", owners exchanging rows as wire frames" : "")
            << fmt::format("{:<11} {:>4} {:>14} {:>14} {:>17} {:>17} {:>9} {:>10} {:>7} {:>6}\n",
                           "strategy", "n", "user imb m/s", "item imb m/s", "fetched/b user m/s",
                           "fetched/b item m/s", "msgs/b", "KB/batch", "seconds", "agree");
  bool all_agree = true;
  const auto passes = std::uint64_t(o.training.passes);
  for (auto n : counts)
    for (const auto& s : strategies) {
      if (s == "grid" || s == "hash-item")
        continue;
      auto by_user = make_key_partitioner(s, n, data.users.externals(), d.users, 0);
      auto by_item = make_key_partitioner(s, n, data.items.externals(), d.items, item_salt);
      auto m = measure_partitions(data, by_user, by_item, o);
      if (!m)
        return m.err();
      auto plan = make_plan(s, n, data.users, data.items, d.users, d.items);
      if (!plan)
        return plan.err();
      auto item_plan = *plan;
      item_plan.place = placement::by_item;
      auto sim = simulate(first, data.users.size(), data.items.size(), {*plan, item_plan}, o.batch_size);
      auto predicted = predict_engine_traffic(sizes, n, o.training.passes);
      bool agree = m->user_owner_ratings == sim[0].per_partition &&
                   m->item_owner_ratings == sim[1].per_partition;
      // Placed by user, a partition holds user shard s and item shard s: it fetches the
      // item rows that item owners t != s send it; placed by item, the user rows.
      const auto& to_users = m->edges[std::size_t(edge_index::items_to_users)];
      const auto& to_items = m->edges[std::size_t(edge_index::users_to_items)];
      if (o.frames)
        agree = agree && to_users.remote_rows == sim[0].fetched * passes &&
                to_items.remote_rows == sim[1].fetched * passes;
      std::uint64_t messages = 0, bytes = 0;
      for (std::size_t e = 0; e < edge_count; ++e) {
        auto ei = edge_index(e);
        bool owner_edge = ei == edge_index::users_to_items || ei == edge_index::items_to_users;
        auto want = o.frames && owner_edge
                      ? framed_owner_bytes(ei, m->edges[e], m->ratings, o.training.passes, o.training.rank)
                      : predicted[e].bytes;
        agree = agree && m->edges[e].messages == predicted[e].messages && m->edges[e].bytes == want;
        messages += m->edges[e].messages;
        bytes += m->edges[e].bytes;
      }
      all_agree = all_agree && agree;
      auto per_batch = [&](double v) { return m->batches ? v / double(m->batches) : 0.0; };
      std::cout << fmt::format(
        "{:<11} {:>4} {:>6.3f}/{:<7.3f} {:>6.3f}/{:<7.3f} {:>8.1f}/{:<8.1f} {:>8.1f}/{:<8.1f} {:>9.1f} {:>10.1f} "
        "{:>7.3f} {:>6}\n",
        s, n, imbalance(m->user_owner_ratings), sim[0].imbalance, imbalance(m->item_owner_ratings),
        sim[1].imbalance, per_batch(double(to_users.remote_rows) / double(passes)), sim[0].fetched_per_batch,
        per_batch(double(to_items.remote_rows) / double(passes)), sim[1].fetched_per_batch,
        per_batch(double(messages)), per_batch(double(bytes)) / 1024.0, m->seconds, agree ? "yes" : "NO");
    }
  std::cout << "(m/s: measured on the engine / simulated. imb: max/mean ratings per owner, from the engine's "
               "snapshot. fetched/b: factor rows per batch and pass that a partition placed by user (item "
               "rows) or by item (user rows) gets from other partitions, counted by the owners. msgs/b, "
               "KB/batch: all edges as the engine counts them"
            << (o.frames ? ", owner rows as the wire frames they were" : "")
            << "; agree: all of these equal, and messages and bytes equal the engine's message sizes)\n";
  return all_agree;
}

}  // namespace recflow::cli
