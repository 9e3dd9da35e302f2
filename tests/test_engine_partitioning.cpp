// The partitioning strategies on the real local engine: what it measures agrees with the
// simulation's counts and with its message sizes.
#include <catch2/catch.hpp>

#include "recflow/engine/partition_measure.hpp"
#include "recflow/graph/partition_plan.hpp"
#include "recflow/model/power_law.hpp"

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

  // The rows the owners sent to another shard number are the simulation's fetched rows:
  // item rows for the placement by user, user rows for the placement by item, each pass.
  const auto& to_users = m->edges[std::size_t(edge_index::items_to_users)];
  const auto& to_items = m->edges[std::size_t(edge_index::users_to_items)];
  CHECK(to_users.remote_rows == sim[0].fetched * 2);
  CHECK(to_items.remote_rows == sim[1].fetched * 2);
  CHECK(to_users.rows > to_users.remote_rows);

  auto predicted = predict_engine_traffic({1'000, 1'000, 1'000, 1'000}, n, o.training.passes);
  for (std::size_t e = 0; e < edge_count; ++e) {
    INFO("edge " << e);
    CHECK(m->edges[e].messages == predicted[e].messages);
    auto ei = edge_index(e);
    if (ei == edge_index::users_to_items || ei == edge_index::items_to_users)
      CHECK(m->edges[e].bytes == framed_owner_bytes(ei, m->edges[e], 4'000, 2, o.training.rank));
    else
      CHECK(m->edges[e].bytes == predicted[e].bytes);
  }
}

TEST_CASE("engine partitioning: framed rows ship the same rows, and their bytes differ by strategy",
          "[partition][engine]") {
  auto p = power_law_params::for_ratings(8'000, 5);
  p.users = 800;
  p.items = 200;
  auto t = power_law_table(p);
  key_degrees d(t.users.size(), t.items.size());
  d.add(t.ratings);
  auto run = [&](const std::string& strategy, bool frames) {
    measure_options o;
    o.batches = 8;
    o.frames = frames;
    auto by_user = make_key_partitioner(strategy, 4, t.users.externals(), d.users, 0);
    auto by_item = make_key_partitioner(strategy, 4, t.items.externals(), d.items, item_salt);
    return measure_partitions(t, by_user, by_item, o).value();
  };
  auto shared = run("hash-user", false), framed = run("hash-user", true);
  // Same rows either way; only the bytes of the owner edges change.
  for (auto e : {edge_index::users_to_items, edge_index::items_to_users}) {
    CHECK(shared.edges[std::size_t(e)].rows == framed.edges[std::size_t(e)].rows);
    CHECK(shared.edges[std::size_t(e)].messages == framed.edges[std::size_t(e)].messages);
    CHECK(framed.edges[std::size_t(e)].bytes > shared.edges[std::size_t(e)].bytes);
  }
  auto degree = run("degree", true);
  CHECK(degree.edges[std::size_t(edge_index::items_to_users)].bytes
        != framed.edges[std::size_t(edge_index::items_to_users)].bytes);
}

namespace {
/// Every key on shard 0 of 3: shards 1 and 2 of each side never get a rating.
struct all_on_zero {
  std::size_t operator()(std::int64_t) const noexcept { return 0; }
  std::size_t partitions() const noexcept { return 3; }
  std::string name() const { return "all-on-zero"; }
};
}  // namespace

TEST_CASE("engine partitioning: framed owners whose shards get no ratings still run",
          "[partition][engine]") {
  // Regression: an owner with an empty working set shipped user rows that said they had
  // no biases, and its peers rejected them, stopping the job (multi-node too).
  auto p = power_law_params::for_ratings(3'000, 3);
  p.users = 300;
  p.items = 100;
  auto t = power_law_table(p);
  measure_options o;
  o.batches = 3;
  o.training.passes = 2;
  auto m = measure_partitions(t, all_on_zero{}, all_on_zero{}, o);
  REQUIRE(m);
  CHECK(m->ratings == 3'000);
  CHECK(m->user_owner_ratings == std::vector<std::uint64_t>{3'000, 0, 0});
  CHECK(m->edges[std::size_t(edge_index::items_to_users)].remote_rows == 0);
}
