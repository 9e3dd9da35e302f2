// The load of each factor-owner shard and the batches in flight, as the engine reports
// them per batch (batch_metrics): what the dashboard and /metrics show.
#include <catch2/catch.hpp>

#include <vector>

#include "recflow/engine/local_engine.hpp"
#include "recflow/graph/source.hpp"

using namespace recflow;

namespace {

/// 2,000 ratings whose users and items fall unevenly on 3 modulo shards: user i % 7
/// (shard 0 holds users 0, 3 and 6) and item i % 5 (shard 0 holds items 0 and 3).
std::vector<rating_event> skewed_events() {
  std::vector<rating_event> ev;
  for (std::int64_t i = 0; i < 2000; ++i)
    ev.push_back({.user = i % 7, .item = 100 + i % 5, .value = float(1 + i % 5)});
  return ev;
}

}  // namespace

TEST_CASE("local engine: each batch reports the ratings every owner shard applied",
          "[engine][load]") {
  auto events = skewed_events();
  auto g = make_streaming_graph(memory_source(events, {.max_ratings = 250}), stream_params{}, 3);
  g.user_partitioner = modulo_partitioner{3};
  g.item_partitioner = modulo_partitioner{3};
  auto max_in_flight = GENERATE(std::size_t{1}, std::size_t{3});
  auto engine = local_engine::make(g, {.workers = 2, .max_in_flight = max_in_flight}).value();
  REQUIRE(engine->run());
  const auto& h = engine->history();
  REQUIRE(h.size() == 8);
  std::vector<std::uint64_t> users_total(3, 0), items_total(3, 0);
  for (std::size_t b = 0; b < h.size(); ++b) {
    INFO("batch " << h[b].batch);
    REQUIRE(h[b].user_shard_ratings.size() == 3);
    REQUIRE(h[b].item_shard_ratings.size() == 3);
    // What the partitioners send each shard of this batch.
    std::vector<std::uint64_t> users(3, 0), items(3, 0);
    for (std::size_t r = b * 250; r < (b + 1) * 250; ++r) {
      ++users[std::size_t(events[r].user % 3)];
      ++items[std::size_t(events[r].item % 3)];
    }
    CHECK(h[b].user_shard_ratings == users);
    CHECK(h[b].item_shard_ratings == items);
    for (std::size_t s = 0; s < 3; ++s) {
      users_total[s] += h[b].user_shard_ratings[s];
      items_total[s] += h[b].item_shard_ratings[s];
    }
    CHECK(h[b].in_flight >= 1);
    CHECK(h[b].in_flight <= max_in_flight);
  }
  // Users 0..4 rate 286 times, 5 and 6 285 times; shard 0 holds 0, 3, 6.
  CHECK(users_total == std::vector<std::uint64_t>{857, 572, 571});
  // Each item 400 times; shard 0 holds item 102, shard 1 100 and 103, shard 2 101 and 104.
  CHECK(items_total == std::vector<std::uint64_t>{400, 800, 800});
  if (max_in_flight == 1)
    for (const auto& m : h)
      CHECK(m.in_flight == 1);  // one batch at a time: only the one completing
}
