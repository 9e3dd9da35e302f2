// The coordinator that both engines share (engine/coordinator.hpp), without an actor
// system: a driver in this thread plays the source, the partition step and the owners,
// answering in order, with the owners' shards in plain stores (coordinator_test_util.hpp).
#include <catch2/catch.hpp>

#include "coordinator_test_util.hpp"

using namespace recflow;
using namespace recflow::test::coordinator_rig;
using recflow::test::pos;

TEST_CASE("coordinator: batches are stamped in order with offsets and the running mean",
          "[engine][coordinator]") {
  auto in_flight = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{3});
  rig r(6, {.max_in_flight = in_flight});
  std::vector<std::uint64_t> reported;
  auto sum = r.core.drive(4, {}, [&](const batch_metrics& m) { reported.push_back(m.batch); });
  REQUIRE(sum);
  CHECK(sum->batches == 4);
  CHECK(sum->ratings == 16);
  CHECK(sum->max_in_flight_seen == in_flight);
  CHECK_FALSE(sum->end_of_stream);
  CHECK(reported == std::vector<std::uint64_t>{1, 2, 3, 4});
  REQUIRE(r.driver.sent.size() == 4);
  auto batches = small_batches(6);
  double mu = 0.0;
  std::uint64_t count = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    mu = fold_mean(mu, count, batches[k]);
    CHECK(r.driver.sent[k].batch == k);
    CHECK(r.driver.sent[k].offset == 4 * k);
    CHECK(r.driver.sent[k].mu == mu);
    CHECK(r.driver.sent[k].mu_count == count);
    CHECK_FALSE(r.driver.sent[k].snapshot);
  }
  auto rest = r.core.drive(all, {}, {});
  REQUIRE(rest);
  CHECK(rest->batches == 2);
  CHECK(rest->end_of_stream);
  CHECK(r.core.finished());
  CHECK(r.core.completed() == 6);
  REQUIRE(r.core.history().size() == 6);
  CHECK(r.core.history().back().ratings_seen == 24);
  CHECK(r.core.history().back().position == pos(6));
  // Every batch was acknowledged to the source once, in order, after it completed.
  CHECK(r.source->acked() == std::vector<std::string>{pos(1), pos(2), pos(3), pos(4), pos(5), pos(6)});
}

TEST_CASE("coordinator: history keeps the newest history_limit to twice as many batches",
          "[engine][coordinator]") {
  auto limit = GENERATE(std::size_t{1}, std::size_t{4}, std::size_t{10});
  rig r(25, {.max_in_flight = 2, .history_limit = limit});
  REQUIRE(r.core.drive(all, {}, {}));
  const auto& h = r.core.history();
  CHECK(h.size() >= limit);
  CHECK(h.size() < 2 * limit);
  CHECK(h.back().batch == 25);
  for (std::size_t k = 1; k < h.size(); ++k)
    CHECK(h[k].batch == h[k - 1].batch + 1);
  CHECK(r.core.completed() == 25);
}

TEST_CASE("coordinator: run_until stops pulling once the predicate holds, and the batches in flight complete",
          "[engine][coordinator]") {
  rig r(10, {.max_in_flight = 2});
  std::size_t calls = 0;
  auto sum = r.core.drive(all, [](const batch_metrics& m) { return m.batch == 3; },
                          [&](const batch_metrics&) { ++calls; });
  REQUIRE(sum);
  CHECK(sum->batches >= 3);
  CHECK(sum->batches <= 4);  // at most max_in_flight - 1 more
  CHECK(calls == sum->batches);
  CHECK_FALSE(r.core.finished());
  CHECK(r.core.in_flight() == 0);
}

TEST_CASE("coordinator: a source failure ends the run after the batches in flight",
          "[engine][coordinator]") {
  rig r(3, {.max_in_flight = 2});
  r.driver.source_error_after = error{errc::io, "broker went away"};
  auto sum = r.core.drive(all, {}, {});
  REQUIRE_FALSE(sum);
  CHECK(sum.err().message == "broker went away");
  CHECK(r.core.history().size() == 3);
  CHECK(r.core.finished());
  CHECK_FALSE(r.core.broken());
}

TEST_CASE("coordinator: a report it cannot place breaks the run with an error, never a crash",
          "[engine][coordinator]") {
  using event = fake_driver::event;
  struct bad_case {
    const char* name;
    std::function<event(const batch_stamp&)> make;
    const char* says;
  };
  const std::vector<bad_case> cases{
    {"owner report of a batch never sent",
     [](const batch_stamp& st) { return event{owner_done{st.batch + 7, side::user, 0, {}, 0}}; },
     "unexpected owner report for batch 8"},
    {"partition report of a batch never sent",
     [](const batch_stamp& st) { return event{partition_done{st.batch + 7, {}, {}}}; },
     "unexpected partition report for batch 8"},
    {"owner report of a side that does not exist",
     [](const batch_stamp& st) { return event{owner_done{st.batch, static_cast<side>(2), 0, {}, 0}}; },
     "a malformed owner report for batch 1"},
    {"owner report of a shard that does not exist",
     [](const batch_stamp& st) { return event{owner_done{st.batch, side::user, 9, {}, 0}}; },
     "a malformed owner report for batch 1"},
    {"snapshot part numbered 0",
     [](const batch_stamp&) { return event{shard_parts{}}; },
     "a malformed snapshot part"},
    {"snapshot part of a batch never sent",
     [](const batch_stamp&) {
       shard_parts p;
       p.batch = 40;
       return event{p};
     },
     "unexpected snapshot part for batch 40"},
    {"view without a store (as one arriving over a network)",
     [](const batch_stamp& st) { return event{shard_view{st.batch + 1, side::user, 0, nullptr}}; },
     "a malformed shard view"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      rig r(5, {.max_in_flight = 1});
      r.driver.on_send = [&](const batch_stamp& st, std::deque<event>& q) {
        if (st.batch == 0)
          q.push_front(c.make(st));
      };
      auto sum = r.core.drive(all, {}, {});
      REQUIRE_FALSE(sum);
      CHECK(sum.err().code == errc::corrupt);
      CHECK(sum.err().message == c.says);
      // The coordinator stays broken: the next run says so at once.
      auto again = r.core.drive(all, {}, {});
      REQUIRE_FALSE(again);
      CHECK(again.err().message == c.says);
    }
  }
  SECTION("an owner reporting twice") {
    rig r(5, {.max_in_flight = 1});
    r.driver.on_send = [](const batch_stamp& st, std::deque<event>& q) {
      q.push_front(owner_done{st.batch, side::item, 1, {}, 0});
      q.push_front(owner_done{st.batch, side::item, 1, {}, 0});
    };
    auto sum = r.core.drive(all, {}, {});
    REQUIRE_FALSE(sum);
    CHECK(sum.err().message == "a malformed owner report for batch 1");
  }
  SECTION("a shard sent twice after a snapshot batch") {
    rig r(5, {.max_in_flight = 1}, [](streaming_graph& g) {
      g.on_model = [](std::uint64_t, factor_model&&) {};
    });
    r.driver.on_send = [](const batch_stamp& st, std::deque<event>& q) {
      shard_parts p;
      p.batch = st.batch + 1;
      p.side = side::item;
      q.push_front(p);
      q.push_front(p);
    };
    auto sum = r.core.drive(all, {}, {});
    REQUIRE_FALSE(sum);
    CHECK(sum.err().message == "a second snapshot of item shard 0 for batch 1");
  }
}

TEST_CASE("coordinator: after a snapshot batch the model is evaluated and handed to on_model",
          "[engine][coordinator]") {
  auto views = GENERATE(false, true);
  INFO((views ? "owners hold and send views" : "owners send copies"));
  auto validation = std::make_shared<rating_table>();
  validation->ratings.push_back({validation->users.insert(0), validation->items.insert(1), 4.0, 0});
  validation->ratings.push_back({validation->users.insert(3), validation->items.insert(2), 2.0, 0});
  std::vector<std::pair<std::uint64_t, factor_model>> published;
  rig r(6, {.max_in_flight = 1}, [&](streaming_graph& g) {
    g.evaluation = evaluation_options{validation, 2};
    g.on_model = [&](std::uint64_t batch, factor_model&& m) { published.emplace_back(batch, std::move(m)); };
  });
  r.driver.views = views;
  REQUIRE(r.core.drive(all, {}, {}));
  const auto& h = r.core.history();
  REQUIRE(h.size() == 6);
  REQUIRE(published.size() == 6);  // publish_interval 0: every batch
  for (std::size_t k = 0; k < 6; ++k) {
    CHECK(r.driver.sent[k].snapshot);
    CHECK(published[k].first == k + 1);
    CHECK(published[k].second.mu() == r.driver.sent[k].mu);
    CHECK(published[k].second.mu_count() == r.driver.sent[k].mu_count);
    CHECK(h[k].rmse.has_value() == ((k + 1) % 2 == 0));
    if (h[k].rmse)  // nothing offered in place: the assembled model, as evaluate() does it
      CHECK(*h[k].rmse == evaluate(published[k].second, *validation).rmse);
  }
  CHECK(published.back().second.users().size() == 7);
  CHECK(published.back().second.items().size() == 5);
  CHECK(r.driver.in_place_calls == (views ? 3u : 0u));
  CHECK(r.driver.releases == (views ? 6u : 0u));
}

TEST_CASE("coordinator: held shards are evaluated where they are, then released once",
          "[engine][coordinator]") {
  auto validation = std::make_shared<rating_table>();
  validation->ratings.push_back({validation->users.insert(0), validation->items.insert(1), 4.0, 0});
  rig r(4, {.max_in_flight = 1}, [&](streaming_graph& g) {
    g.evaluation = evaluation_options{validation, 1};
  });
  r.driver.views = true;
  // Released when the driver says the shards are read (before it sums), or after it.
  r.driver.read_early = GENERATE(false, true);
  SECTION("the driver's figures go into the metrics") {
    r.driver.in_place = result<error_metrics>(error_metrics{.rmse = 0.5, .mae = 0.25});
    REQUIRE(r.core.drive(all, {}, {}));
    CHECK(r.driver.in_place_calls == 4);
    CHECK(r.driver.releases == 4);
    CHECK(r.driver.early_releases == (r.driver.read_early ? 4u : 0u));
    for (const auto& m : r.core.history()) {
      CHECK(m.rmse == 0.5);
      CHECK(m.mae == 0.25);
    }
  }
  SECTION("a failed evaluation releases the owners and breaks the run") {
    r.driver.in_place = result<error_metrics>(error{errc::io, "evaluation failed: timeout"});
    auto sum = r.core.drive(all, {}, {});
    REQUIRE_FALSE(sum);
    CHECK(sum.err().message == "evaluation failed: timeout");
    CHECK(r.driver.releases == 1);
  }
}

TEST_CASE("coordinator: a batch evaluated in place and published holds for its copies, then is "
          "released", "[engine][coordinator]") {
  auto validation = std::make_shared<rating_table>();
  validation->ratings.push_back({validation->users.insert(0), validation->items.insert(1), 4.0, 0});
  std::size_t published = 0;
  rig r(4, {.max_in_flight = 1}, [&](streaming_graph& g) {
    g.evaluation = evaluation_options{validation, 1};
    g.on_model = [&](std::uint64_t, factor_model&&) { ++published; };
  });
  r.driver.views = true;
  r.driver.read_early = true;
  r.driver.in_place = result<error_metrics>(error_metrics{.rmse = 0.5, .mae = 0.25});
  REQUIRE(r.core.drive(all, {}, {}));
  CHECK(published == 4);
  CHECK(r.driver.releases == 4);
  CHECK(r.driver.early_releases == 0);  // not before the shards were copied
}

TEST_CASE("coordinator: while owners hold after a snapshot batch, a pulled batch waits unrouted",
          "[engine][coordinator]") {
  auto validation = std::make_shared<rating_table>();
  validation->ratings.push_back({validation->users.insert(0), validation->items.insert(1), 4.0, 0});
  const bool hold = GENERATE(true, false);
  // Three batches pulled at once; every second one is evaluated (batches 2 and 4).
  rig r(5, {.max_in_flight = 3, .hold_after_snapshot = hold}, [&](streaming_graph& g) {
    g.evaluation = evaluation_options{validation, 2};
  });
  r.driver.views = true;
  r.driver.in_place = result<error_metrics>(error_metrics{.rmse = 0.5, .mae = 0.25});
  std::vector<std::size_t> completed_at_send;  ///< batches completed when each was routed
  r.driver.on_send = [&](const batch_stamp&, auto&) {
    completed_at_send.push_back(r.core.history().size());
  };
  auto sum = r.core.drive(all, {}, {});
  REQUIRE(sum);
  CHECK(sum->batches == 5);
  REQUIRE(completed_at_send.size() == 5);
  INFO("hold " << hold);
  if (hold) {
    // Batch 3 is routed only once batch 2 (evaluated, held) has completed; batch 5 after 4.
    CHECK(completed_at_send[2] >= 2);
    CHECK(completed_at_send[4] >= 4);
  } else {
    CHECK(completed_at_send[2] < 2);  // routed while batch 2 was in flight
  }
  CHECK(r.driver.in_place_calls == 2);
  for (std::size_t i = 1; i < r.driver.sent.size(); ++i)
    CHECK(r.driver.sent[i].batch == r.driver.sent[i - 1].batch + 1);
}

TEST_CASE("coordinator: checkpoints, then a rewind routes the batches since again, reported once",
          "[engine][coordinator]") {
  rig r(8, {.max_in_flight = 2, .history_limit = 0, .checkpoint_every = 3});
  std::vector<std::uint64_t> reported;
  auto on_batch = [&](const batch_metrics& m) { reported.push_back(m.batch); };
  REQUIRE(r.core.drive(5, {}, on_batch));
  REQUIRE(r.driver.checkpoints.size() == 1);
  auto [at, first_time] = r.driver.checkpoints[0];
  CHECK(first_time);
  CHECK(at.batches == 3);
  CHECK(at.ratings == 12);
  CHECK(at.mu == r.driver.sent[2].mu);
  CHECK(at.position == pos(3));

  // A node is lost: fresh owners from the checkpoint, batches 4 and 5 routed again.
  auto batches = small_batches(5);
  std::deque<rating_batch> again{batches[3], batches[4]};
  again[0].position = pos(4);
  again[1].position = pos(5);
  r.driver.owner_base = 3;
  r.core.rewind(at, std::move(again));
  CHECK(r.core.completed() == 3);
  CHECK(r.core.history().size() == 3);
  CHECK(r.core.backlog() == 2);
  CHECK(r.core.current_batch() == 4);
  auto sum = r.core.drive(all, {}, on_batch);
  REQUIRE(sum);
  CHECK(sum->batches == 3);  // 6, 7 and 8: 4 and 5 were reported before
  CHECK(reported == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  // Stamped again exactly as the first time.
  REQUIRE(r.driver.sent.size() == 10);
  CHECK(r.driver.sent[5] == r.driver.sent[3]);
  CHECK(r.driver.sent[6] == r.driver.sent[4]);
  REQUIRE(r.core.history().size() == 8);
  for (std::size_t k = 0; k < 8; ++k)
    CHECK(r.core.history()[k].batch == k + 1);
  REQUIRE(r.driver.checkpoints.size() == 2);
  CHECK(r.driver.checkpoints[1].first.batches == 6);
  CHECK(r.driver.checkpoints[1].second);
}

TEST_CASE("coordinator: a seed model's mean goes on with the stream", "[engine][coordinator]") {
  auto seed = std::make_shared<factor_model>(rank, rating_scale{1.0, 5.0});
  rating_batch first;
  first.ratings.push_back({0, 0, 5.0, 0});
  first.ratings.push_back({1, 1, 1.0, 0});
  std::uint64_t seeded = 0;
  double seed_mu = fold_mean(0.0, seeded, first);
  seed->set_mu(seed_mu, seeded);
  rig r(1, {}, [&](streaming_graph& g) { g.seed_model = seed; });
  REQUIRE(r.core.drive(all, {}, {}));
  auto batches = small_batches(1);
  auto count = seeded;
  CHECK(r.driver.sent[0].mu == fold_mean(seed_mu, count, batches[0]));
  CHECK(r.driver.sent[0].mu_count == seeded + 4);
}
