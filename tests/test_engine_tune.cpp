// recflow tune on the actor pool: every task runs once, and the search's outcome is the
// same for any number of workers.
#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "recflow/engine/tune_pool.hpp"
#include "recflow/tune/tune_problem.hpp"
#include "planted_groups.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// A small problem of each kind: batch ALS on planted ratings (3 folds), implicit ALS on
/// planted groups (each user's latest training event).
tune_problem planted_problem(tune_mode mode) {
  tune_problem p;
  p.space.mode = mode;
  if (mode == tune_mode::implicit) {
    p.space.params = {parse_param("rank=2,3,6", mode).value(),
                      parse_param("lambda=0.01..100:log", mode).value(),
                      parse_param("alpha=1..10:log", mode).value()};
    p.implicit.iterations = 4;
    p.folds.push_back(latest_fold(test::make_planted_groups().table, 42).value());
    return p;
  }
  test::planted_params pp;
  pp.users = 120;
  pp.items = 90;
  pp.density = 0.3;
  pp.noise = 0.3;
  auto data = test::make_planted(pp);
  p.space.params = {parse_param("rank=2,3,6", mode).value(),
                    parse_param("lambda=0.01..100:log", mode).value()};
  p.als.iterations = 4;
  p.folds = validation_folds(data.table, 0.2, 3, 42).value();
  return p;
}

}  // namespace

TEST_CASE("tune pool: runs every task exactly once and reports each", "[engine][tune]") {
  auto [workers, n] = GENERATE(table<std::size_t, std::size_t>({
    {1, 0}, {1, 5}, {2, 1}, {2, 37}, {3, 200}, {8, 3}}));
  INFO(workers << " workers, " << n << " tasks");
  std::vector<std::atomic<int>> runs(n);
  std::vector<int> dones(n, 0);
  actor_pool_executor(workers)(
    n, [&](std::size_t i) { runs[i].fetch_add(1); }, [&](std::size_t i) { ++dones[i]; });
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(runs[i].load() == 1);
    CHECK(dones[i] == 1);
  }
}

TEST_CASE("tune pool: the same winner and scores with 1, 2 and 3 workers", "[engine][tune]") {
  auto mode = GENERATE(tune_mode::batch, tune_mode::implicit);
  INFO(to_string(mode));
  auto p = planted_problem(mode);
  auto objective = make_objective(p);
  auto defaults = default_candidate(p);
  tune_options o{.trials = 12, .seed = 11};
  auto one = run_search(p.space, defaults, objective, o, actor_pool_executor(1)).value();
  for (std::size_t workers : {2u, 3u}) {
    INFO(workers << " workers");
    auto many = run_search(p.space, defaults, objective, o, actor_pool_executor(workers)).value();
    REQUIRE(many.ranked.size() == one.ranked.size());
    for (std::size_t k = 0; k < one.ranked.size(); ++k) {
      CHECK(many.ranked[k].settings.values == one.ranked[k].settings.values);
      CHECK(many.ranked[k].loss == one.ranked[k].loss);  // bit for bit
      CHECK(many.ranked[k].fraction == one.ranked[k].fraction);
    }
    CHECK(many.work == one.work);
    CHECK(many.trials == one.trials);
  }
}
