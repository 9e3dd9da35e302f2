// recflow tune for implicit ALS (tune layer, no actors): the implicit search space, the
// leave-latest-out validation fold within the training events, and a search on planted
// groups that must pick a candidate ranking each group's items first.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "recflow/tune/tune.hpp"
#include "recflow/tune/tune_problem.hpp"
#include "recflow/tune/tune_space.hpp"
#include "planted_groups.hpp"

using namespace recflow;

TEST_CASE("tune space: implicit tunes rank, lambda and alpha around the shipped defaults",
          "[tune][implicit]") {
  auto s = default_space(tune_mode::implicit);
  REQUIRE(s.params.size() == 3);
  implicit_params shipped;
  auto dflt = default_candidate(s, shipped);
  CHECK(dflt.is_default);
  auto grid = grid_candidates(s, 3);
  CHECK(grid.size() == 27);
  // The 3-point grid contains the shipped defaults.
  CHECK(std::any_of(grid.begin(), grid.end(), [&](const candidate& c) { return c.values == dflt.values; }));
  auto c = grid.back();
  auto p = apply(s, c, shipped);
  CHECK(p.rank == 64);
  CHECK(p.lambda == 200.0);
  CHECK(p.alpha == 12.0);
  CHECK(p.recency_boost == shipped.recency_boost);  // what is not tuned keeps its value
  CHECK(describe(s, c) == "rank=64 lambda=200 alpha=12");

  auto bad = parse_param("gamma=0.1", tune_mode::implicit);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.err().message, Catch::Contains("for tune --implicit")
                                  && Catch::Contains("rank, lambda, alpha"));
  CHECK_FALSE(parse_param("lambda-bias=1", tune_mode::implicit));
}

TEST_CASE("tune: the implicit fold validates each user's latest training event", "[tune][implicit]") {
  rating_table t;
  // User 1: events at times 1..4; user 2: one event (kept in training); user 3: 2 events.
  for (int k = 1; k <= 4; ++k)
    t.ratings.push_back({t.users.insert(1), t.items.insert(10 + k), 1.0f, k});
  t.ratings.push_back({t.users.insert(2), t.items.insert(11), 1.0f, 9});
  t.ratings.push_back({t.users.insert(3), t.items.insert(12), 1.0f, 7});
  t.ratings.push_back({t.users.insert(3), t.items.insert(13), 1.0f, 3});
  auto f = latest_fold(t, 42).value();
  REQUIRE(f.validation.size() == 2);
  CHECK(f.train.size() == 5);
  std::set<std::int64_t> latest;
  for (const auto& r : f.validation.ratings)
    latest.insert(r.timestamp);
  CHECK(latest == std::set<std::int64_t>{4, 7});

  rating_table single;
  single.ratings.push_back({single.users.insert(1), single.items.insert(1), 1.0f, 0});
  CHECK_FALSE(latest_fold(single, 42));
}

TEST_CASE("tune: implicit ALS on planted groups picks a candidate that ranks the groups first",
          "[tune][implicit]") {
  auto d = test::make_planted_groups();
  tune_problem p;
  p.space.mode = tune_mode::implicit;
  // Rank 1 cannot tell three groups apart; a huge lambda shrinks every factor to nothing.
  p.space.params = {parse_param("rank=1,4", tune_mode::implicit).value(),
                    parse_param("lambda=0.1..100000:log", tune_mode::implicit).value(),
                    parse_param("alpha=3", tune_mode::implicit).value()};
  p.implicit.iterations = 6;
  p.implicit.rank = 1;
  p.implicit.lambda = 100000;  // the "defaults" candidate is a bad corner here
  p.folds.push_back(latest_fold(d.table, 42).value());
  REQUIRE(check_space(p));
  auto objective = make_objective(p);
  CHECK(objective.loss == loss_kind::mean);
  CHECK(objective.loss_name == "1 - HR@10");

  auto r = run_search(p.space, default_candidate(p), objective,
                      tune_options{.search = search_kind::grid, .grid_points = 6}).value();
  const auto& best = r.ranked[r.best];
  const auto& dflt = r.ranked[r.defaults];
  INFO(describe(p.space, best.settings) << " HR@10 " << 1.0 - best.loss << ", defaults "
                                        << 1.0 - dflt.loss);
  CHECK(r.loss_name == "1 - HR@10");
  CHECK(best.settings.values[0] == 4);
  CHECK(best.settings.values[1] < 1000);
  CHECK(1.0 - best.loss >= 0.9);  // 60 validation events, each ranked against ~25 items
  CHECK(best.loss < dflt.loss - 0.3);
  // Each rank-1 candidate validates worse than the winner.
  for (const auto& c : r.ranked)
    if (c.settings.values[0] == 1)
      CHECK(c.loss > best.loss);
  // Work: event-sweeps, every grid candidate (12, the defaults among them) at 6 iterations.
  CHECK(r.work == 12u * 6u * p.folds[0].train.size());
  CHECK(r.grid_work == 12u * 6u * p.folds[0].train.size());
}
