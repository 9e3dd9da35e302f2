// Load and backlog on the monitor: ratings per owner shard, batches in flight (the live
// monitor's metrics and state) and a Redis consumer group's pending and unread entries
// (the source asks a real redis-server; skipped without one, tests/redis_test_util.hpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recflow/serve/monitor.hpp"
#include "recflow/sources/redis_source.hpp"
#include "redis_test_util.hpp"

using namespace recflow;
using json = nlohmann::json;
using std::chrono::milliseconds;

TEST_CASE("serve monitor: ratings per shard add up in /metrics, with how uneven they are",
          "[serve][dashboard][load]") {
  serve::live_monitor mon;
  auto metrics = [&] { return mon.handle("GET", "/metrics")->body; };
  // Before any batch: no shard series, batches in flight unknown.
  CHECK(metrics().find("recflow_shard_ratings_total") == std::string::npos);
  CHECK(metrics().find("\nrecflow_batches_in_flight NaN\n") != std::string::npos);
  mon.on_batch({.batch = 1, .ratings = 100, .ratings_seen = 100, .latency_seconds = 0.01,
                .user_shards = {70, 30}, .item_shards = {50, 50}, .in_flight = 2});
  mon.on_batch({.batch = 2, .ratings = 100, .ratings_seen = 200, .latency_seconds = 0.01,
                .user_shards = {50, 50}, .item_shards = {10, 90}, .in_flight = 1});
  auto text = metrics();
  INFO(text);
  CHECK(text.find("\nrecflow_shard_ratings_total{side=\"user\",shard=\"0\"} 120\n") != std::string::npos);
  CHECK(text.find("\nrecflow_shard_ratings_total{side=\"user\",shard=\"1\"} 80\n") != std::string::npos);
  CHECK(text.find("\nrecflow_shard_ratings_total{side=\"item\",shard=\"0\"} 60\n") != std::string::npos);
  CHECK(text.find("\nrecflow_shard_ratings_total{side=\"item\",shard=\"1\"} 140\n") != std::string::npos);
  // Busiest over mean since the start: users 120 / 100, items 140 / 100.
  CHECK(text.find("\nrecflow_shard_imbalance_ratio{side=\"user\"} 1.2\n") != std::string::npos);
  CHECK(text.find("\nrecflow_shard_imbalance_ratio{side=\"item\"} 1.4\n") != std::string::npos);
  CHECK(text.find("\nrecflow_batches_in_flight 1\n") != std::string::npos);
  auto state = json::parse(mon.state_json());
  CHECK(state["shards"]["user"]["total"] == json::array({120, 80}));
  CHECK(state["shards"]["item"]["last"] == json::array({10, 90}));
  CHECK(state["shards"]["item"]["last_max_over_mean"].get<double>() == Approx(1.8));
  CHECK(state["shards"]["in_flight"] == 1);
  // Each point carries its batch's imbalance for the chart: users then items.
  CHECK(state["points"][0][7].get<double>() == Approx(1.4));
  CHECK(state["points"][1][8].get<double>() == Approx(1.8));
  mon.finish(std::nullopt, std::nullopt);
  CHECK(metrics().find("\nrecflow_batches_in_flight 0\n") != std::string::npos);
  CHECK(json::parse(mon.state_json())["shards"]["in_flight"] == 0);
}

TEST_CASE("serve monitor: max_over_mean of a load", "[serve][load]") {
  CHECK(serve::max_over_mean({}) == 1.0);
  CHECK(serve::max_over_mean({0, 0}) == 1.0);
  CHECK(serve::max_over_mean({5, 5, 5}) == 1.0);
  CHECK(serve::max_over_mean({3, 1}) == Approx(1.5));
  CHECK(serve::max_over_mean({4, 0, 0, 0}) == Approx(4.0));
}

TEST_CASE("redis source: its backlog is the consumer group's pending and unread entries",
          "[sources][redis][load]") {
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  std::vector<rating_event> ev;
  for (int j = 0; j < 5000; ++j)
    ev.push_back({j % 97, j % 31, float(1 + j % 5), 1000 + j});
  redis_stream_address at{server->endpoint(), "ratings"};
  REQUIRE(publish_ratings({.at = at, .end_marker = false}, ev));
  auto src = redis_source({.at = at, .max_ratings = 1000});
  auto now = milliseconds(0);
  // Nothing read yet: the group does not exist before the first read.
  CHECK_FALSE(src->backlog(now).has_value());
  auto b1 = src->next();
  auto b2 = src->next();
  REQUIRE((b1 && *b1 && b2 && *b2));
  auto two_read = src->backlog(now);
  REQUIRE(two_read);
  CHECK(two_read->pending == 2000);  // delivered, not applied
  REQUIRE(two_read->unread.has_value());  // Redis 7 reports the group's lag
  CHECK(*two_read->unread == 3000);
  src->applied((*b1)->position);
  auto cached = src->backlog(std::chrono::hours(1));  // within max_age: no new question
  REQUIRE(cached);
  CHECK(cached->pending == 2000);
  auto one_applied = src->backlog(now);
  REQUIRE(one_applied);
  CHECK(one_applied->pending == 1000);
  CHECK(one_applied->unread == std::optional<std::uint64_t>(3000));
  src->applied((*b2)->position);
  REQUIRE(src->next());
  auto three_read = src->backlog(now);
  REQUIRE(three_read);
  CHECK(three_read->pending == 1000);
  CHECK(three_read->unread == std::optional<std::uint64_t>(2000));
  // A source without a broker has no backlog.
  CHECK_FALSE(memory_source(ev)->backlog(now).has_value());
}
