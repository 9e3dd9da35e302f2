#include "cli/partitions_measure.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "graph/partition_plan.hpp"

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
  std::cout << fmt::format("measured on the local engine: {} batches of {} ratings, rank {}, {} pass(es)\n",
                           sizes.size(), o.batch_size, o.training.rank, o.training.passes)
            << fmt::format("{:<11} {:>4} {:>14} {:>14} {:>12} {:>14} {:>8} {:>7}\n", "strategy", "n",
                           "user imb m/s", "item imb m/s", "messages", "bytes", "seconds", "agree");
  bool all_agree = true;
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
      std::uint64_t messages = 0, bytes = 0;
      for (std::size_t e = 0; e < edge_count; ++e) {
        agree = agree && m->edges[e].messages == predicted[e].messages &&
                m->edges[e].bytes == predicted[e].bytes;
        messages += m->edges[e].messages;
        bytes += m->edges[e].bytes;
      }
      all_agree = all_agree && agree;
      std::cout << fmt::format("{:<11} {:>4} {:>6.3f}/{:<7.3f} {:>6.3f}/{:<7.3f} {:>12} {:>14} {:>8.3f} {:>7}\n",
                               s, n, imbalance(m->user_owner_ratings), sim[0].imbalance,
                               imbalance(m->item_owner_ratings), sim[1].imbalance, messages, bytes,
                               m->seconds, agree ? "yes" : "NO");
    }
  std::cout << "(imb m/s: max/mean ratings per owner, measured from the engine's snapshot / simulated; "
               "messages and bytes: all edges, as the engine counts them, checked against its "
               "message sizes)\n";
  return all_agree;
}

}  // namespace recflow::cli
