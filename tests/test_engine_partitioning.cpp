// The partitioning strategies on the real local engine: what it measures agrees with the
// simulation's counts and with its message sizes.
#include <catch2/catch.hpp>

#include "engine/partition_measure.hpp"
#include "graph/partition_plan.hpp"
#include "model/power_law.hpp"

using namespace recflow;

TEST_CASE("engine partitioning: measured owner loads and edge traffic agree with the simulation",
          "[partition][engine]") {
  // Every single-key strategy can sit on the engine's edges; grid places ratings, which
  // the engine's graph has no step for.
  auto strategy = GENERATE(as<std::string>{}, "hash-user", "range", "random", "degree", "consistent");
  auto n = GENERATE(std::size_t{2}, std::size_t{3});
  INFO(strategy << " over " << n << " partitions");
  auto p = power_law_params::for_ratings(20'000, 17);
  p.users = 1'500;
  p.items = 300;
  auto t = power_law_table(p);
  key_degrees d(t.users.size(), t.items.size());
  d.add(t.ratings);

  measure_options o;
  o.batch_size = 1'000;
  o.batches = 4;
  o.training.passes = 2;
  auto by_user = make_key_partitioner(strategy, n, t.users.externals(), d.users, 0);
  auto by_item = make_key_partitioner(strategy, n, t.items.externals(), d.items, item_salt);
  auto m = measure_partitions(t, by_user, by_item, o);
  REQUIRE(m);
  REQUIRE(m->batches == 4);
  REQUIRE(m->ratings == 4'000);

  // The simulation over the same 4,000 ratings, once placed by user and once by item.
  auto plan = make_plan(strategy, n, t.users, t.items, d.users, d.items).value();
  auto item_plan = plan;
  item_plan.place = placement::by_item;
  auto first = std::span<const rating>(t.ratings).first(4'000);
  auto sim = simulate(first, t.users.size(), t.items.size(), {plan, item_plan}, o.batch_size);
  CHECK(m->user_owner_ratings == sim[0].per_partition);
  CHECK(m->item_owner_ratings == sim[1].per_partition);

  auto predicted = predict_engine_traffic({1'000, 1'000, 1'000, 1'000}, n, o.training.passes);
  for (std::size_t e = 0; e < edge_count; ++e) {
    INFO("edge " << e);
    CHECK(m->edges[e].messages == predicted[e].messages);
    CHECK(m->edges[e].bytes == predicted[e].bytes);
  }
}
