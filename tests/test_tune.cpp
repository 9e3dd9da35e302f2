// recflow tune's search logic (model layer, no actors): spaces, sampling, hyperband,
// work accounting, determinism, and tuning real ALS and streaming on planted data.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "recflow/tune/tune.hpp"
#include "recflow/tune/tune_problem.hpp"
#include "recflow/tune/tune_space.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

double value_of(const search_space& s, const candidate& c, const std::string& name) {
  for (std::size_t k = 0; k < s.params.size(); ++k)
    if (s.params[k].name == name)
      return c.values[k];
  FAIL("no parameter " << name);
  return 0.0;
}

/// A synthetic objective with a planted optimum at lambda = 0.5, rank = 20, and the trap
/// that sank plain successive halving: at small budgets a large gamma looks best, at the
/// full budget it is worse (as fast-learning settings do on short runs).
tune_objective planted_objective(const search_space& s) {
  tune_objective o;
  o.folds = 2;
  o.evaluate = [&s](const candidate& c, double f, std::size_t fold) -> result<trial_score> {
    double lambda = value_of(s, c, "lambda"), rank = value_of(s, c, "rank");
    double gamma = value_of(s, c, "gamma");
    double loss = std::pow(std::log(lambda / 0.5), 2) + std::pow((rank - 20) / 10.0, 2)
                  + 0.3 * std::pow(std::log(gamma / 0.03), 2)    // best at the full budget
                  - 2.0 * (1.0 - f) * std::log(gamma / 0.01);    // short runs like big gamma
    double rmse = 0.8 + 0.01 * loss + 0.001 * double(fold);
    return trial_score{rmse * rmse * 100.0, 100};
  };
  o.work = [](const candidate& c, double f, std::size_t) {
    return static_cast<std::uint64_t>(std::llround(f * 900.0)) + std::uint64_t(c.values.size());
  };
  o.work_unit = "test units";
  return o;
}

search_space planted_space() {
  search_space s;
  s.mode = tune_mode::stream;
  for (const char* t : {"rank=5,10,20,40", "lambda=0.01..10:log", "gamma=0.003..0.3:log"})
    s.params.push_back(parse_param(t, tune_mode::stream).value());
  return s;
}

}  // namespace

TEST_CASE("tune space: parses lists, ranges and log ranges", "[tune]") {
  auto l = parse_param("rank=10,20,50", tune_mode::batch).value();
  CHECK(l.values == std::vector<double>{10, 20, 50});
  CHECK(l.integer);
  auto r = parse_param("lambda=0.1..10:log", tune_mode::batch).value();
  CHECK(r.values.empty());
  CHECK(r.log);
  CHECK(r.lo == 0.1);
  CHECK(r.hi == 10);
  CHECK(to_string(r) == "lambda=0.1..10:log");
  CHECK(grid_values(r, 3) == std::vector<double>{0.1, 1, 10});
  auto lin = parse_param("lambda-exponent=0.3..0.7", tune_mode::batch).value();
  CHECK(grid_values(lin, 3) == std::vector<double>{0.3, 0.5, 0.7});
  CHECK(parse_param("batch-size=500,1000", tune_mode::stream).has_value());
}

TEST_CASE("tune space: bad specs are usage errors naming the parameter", "[tune]") {
  auto [text, mode, says] = GENERATE(table<std::string, tune_mode, std::string>({
    {"gama=0.1,0.2", tune_mode::stream, "unknown parameter 'gama'"},
    {"gamma=0.1", tune_mode::batch, "unknown parameter 'gamma'"},
    {"lambda", tune_mode::batch, "expected NAME="},
    {"lambda=abc", tune_mode::batch, "'abc' is not a number"},
    {"lambda=1,,2", tune_mode::batch, "'' is not a number"},
    {"lambda=2..1", tune_mode::batch, "LO < HI"},
    {"lambda=0..1:log", tune_mode::batch, "0 < LO"},
    {"lambda=1..2:ln", tune_mode::batch, "':log'"},
    {"lambda=nan..2", tune_mode::batch, "not a number"},
    {"rank=0,10", tune_mode::batch, "rank must lie in 1..1000"},
    {"rank=10..1e12", tune_mode::batch, "rank must lie"},
    {"batch-size=-5", tune_mode::stream, "batch-size must lie"},
  }));
  auto p = parse_param(text, mode);
  INFO(text);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.err().code == errc::invalid_argument);
  CHECK_THAT(p.err().message, Catch::Contains(says));
}

TEST_CASE("tune space: a value the trainer rejects is caught before any trial", "[tune]") {
  tune_problem p;
  p.space = default_space(tune_mode::batch);
  set_param(p.space, parse_param("lambda=-1,1", tune_mode::batch).value());
  auto ok = check_space(p);
  REQUIRE_FALSE(ok);
  CHECK_THAT(ok.err().message, Catch::Contains("lambda=-1,1"));
}

TEST_CASE("tune space: the default grids hold every combination and the shipped defaults", "[tune]") {
  for (auto mode : {tune_mode::batch, tune_mode::stream}) {
    INFO(to_string(mode));
    auto space = default_space(mode);
    auto grid = grid_candidates(space, 3);
    CHECK(grid.size() == grid_size(space, 3));
    CHECK(grid.size() == (mode == tune_mode::batch ? 81u : 729u));
    std::set<std::vector<double>> distinct;
    for (const auto& c : grid)
      distinct.insert(c.values);
    CHECK(distinct.size() == grid.size());
    auto d = mode == tune_mode::batch ? default_candidate(space, als_params{})
                                      : default_candidate(space, stream_settings{});
    CHECK(distinct.count(d.values) == 1);
  }
}

TEST_CASE("tune space: random samples are seeded, inside their ranges, three digits", "[tune]") {
  auto space = default_space(tune_mode::stream);
  auto a = random_candidates(space, 50, 7), b = random_candidates(space, 50, 7);
  auto c = random_candidates(space, 50, 8);
  bool differs = false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].values == b[k].values);
    differs = differs || a[k].values != c[k].values;
    for (std::size_t j = 0; j < space.params.size(); ++j) {
      const auto& p = space.params[j];
      double v = a[k].values[j];
      if (p.values.empty()) {
        CHECK(v >= p.lo * 0.995);
        CHECK(v <= p.hi * 1.005);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3g", v);
        CHECK(std::strtod(buf, nullptr) == v);
      } else {
        CHECK(std::count(p.values.begin(), p.values.end(), v) == 1);
      }
    }
  }
  CHECK(differs);
}

TEST_CASE("tune: hyperband brackets follow Li et al. and scale with --trials", "[tune]") {
  auto plan = hyperband_plan(tune_options{});
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].s == 2);
  CHECK(plan[0].candidates == 9);
  CHECK(plan[0].start_fraction == Approx(1.0 / 9));
  CHECK(plan[1].candidates == 5);
  CHECK(plan[2].candidates == 3);
  CHECK(plan[2].start_fraction == 1.0);
  auto big = hyperband_plan(tune_options{.trials = 34});
  CHECK(big[0].candidates == 18);
  CHECK(big[1].candidates == 10);
  CHECK(big[2].candidates == 6);
  CHECK_FALSE(validate(tune_options{.eta = 1}));
  CHECK_FALSE(validate(tune_options{.brackets = 0}));
  // Hyperband's own counts grow as eta^(brackets-1): 10^7 candidates is refused, while
  // --trials bounds them.
  CHECK_FALSE(validate(tune_options{.eta = 10, .brackets = 8}));
  CHECK(validate(tune_options{.trials = 100, .eta = 10, .brackets = 8}));
  std::size_t scaled = 0;
  for (const auto& b : hyperband_plan(tune_options{.trials = 100, .eta = 10, .brackets = 8}))
    scaled += b.candidates;
  CHECK(scaled <= 110);
}

TEST_CASE("tune: hyperband finds the planted optimum despite the short-budget trap", "[tune]") {
  auto space = planted_space();
  auto objective = planted_objective(space);
  candidate defaults{{10, 2.0, 0.1}, true};
  auto r = run_search(space, defaults, objective, tune_options{.trials = 60, .seed = 3}).value();
  const auto& best = r.ranked[r.best];
  CHECK(best.fraction == 1.0);
  CHECK(value_of(space, best.settings, "rank") == 20);
  CHECK(value_of(space, best.settings, "lambda") == Approx(0.5).epsilon(0.6));
  CHECK(value_of(space, best.settings, "gamma") < 0.1);  // not the short-budget favourite
  // The defaults ran at the full budget and cannot beat the winner.
  CHECK(r.ranked[r.defaults].settings.is_default);
  CHECK(r.ranked[r.defaults].fraction == 1.0);
  CHECK(best.loss <= r.ranked[r.defaults].loss);
  // Work is what the trials cost, counted per trial; the full grid is counted exactly.
  std::uint64_t sum = 0;
  for (const auto& c : r.ranked)
    sum += c.work;
  CHECK(sum == r.work);
  CHECK(r.grid_candidates == 4 * 3 * 3);
  CHECK(r.grid_work == 36u * 2u * (900u + 3u));
  CHECK(r.unpruned_work == r.ranked.size() * 2u * (900u + 3u));
  // 62 candidates at 1/9, 1/3 and full budgets: about 45% less than running all fully.
  CHECK(double(r.work) < 0.6 * double(r.unpruned_work));
}

TEST_CASE("tune: grid and random search run everything at the full budget", "[tune]") {
  auto space = planted_space();
  auto objective = planted_objective(space);
  candidate defaults{{20, 0.316, 0.03}, true};  // a point of the 3-point grid
  auto g = run_search(space, defaults, objective, tune_options{.search = search_kind::grid}).value();
  CHECK(g.ranked.size() == 36);  // the defaults are a grid point: not added twice
  CHECK(g.work == g.grid_work);
  CHECK(g.trials == 36 * 2);
  for (std::size_t k = 1; k < g.ranked.size(); ++k)
    CHECK(g.ranked[k - 1].loss <= g.ranked[k].loss);
  auto rnd = run_search(space, defaults, objective,
                        tune_options{.search = search_kind::random, .trials = 7}).value();
  CHECK(rnd.ranked.size() == 8);
  CHECK(rnd.work == rnd.unpruned_work);
}

TEST_CASE("tune: successive halving prunes the grid and carries the defaults through", "[tune]") {
  auto space = planted_space();
  auto objective = planted_objective(space);
  candidate defaults{{10, 2.0, 0.1}, true};  // not a grid point, and poor at every budget
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  auto r = run_search(space, defaults, objective,
                      tune_options{.search = search_kind::grid, .halving = true},
                      sequential_executor(),
                      [&](std::size_t done, std::size_t total) { calls.emplace_back(done, total); })
             .value();
  REQUIRE(r.ranked.size() == 37);
  // Progress: once before the first trial, then after each; the plan was exact.
  REQUIRE(calls.size() == r.trials + 1);
  CHECK(calls.front() == std::pair<std::size_t, std::size_t>{0, r.trials});
  CHECK(calls.back() == std::pair<std::size_t, std::size_t>{r.trials, r.trials});
  // 36 grid points and the defaults at 1/9, the best 12 and the defaults at 1/3, the best
  // 4 and the defaults at the full budget.
  std::size_t full = 0;
  for (const auto& c : r.ranked)
    full += c.fraction == 1.0 ? 1 : 0;
  CHECK(full == 5);
  CHECK(r.trials == (37 + 13 + 5) * 2);
  CHECK(r.ranked[r.defaults].fraction == 1.0);
  CHECK(r.ranked[r.best].loss <= r.ranked[r.defaults].loss);
  CHECK(double(r.work) < 0.5 * double(r.grid_work));
}

TEST_CASE("tune: a grid too large to enumerate is refused before any trial", "[tune]") {
  search_space space;
  space.mode = tune_mode::stream;
  for (const char* name : {"gamma", "gamma-bias", "lambda", "lambda-bias"})
    space.params.push_back(parse_param(std::string(name) + "=0.001..1:log", tune_mode::stream).value());
  auto objective = planted_objective(space);
  candidate defaults{{0.01, 0.01, 0.01, 0.01}, true};
  auto r = run_search(space, defaults, objective,
                      tune_options{.search = search_kind::grid, .grid_points = 100});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("100000000 points"));
}

TEST_CASE("tune: the outcome does not depend on the order trials finish in", "[tune]") {
  auto space = planted_space();
  auto objective = planted_objective(space);
  candidate defaults{{10, 2.0, 0.1}, true};
  task_executor backwards = [](std::size_t n, const std::function<void(std::size_t)>& run,
                               const std::function<void(std::size_t)>& done) {
    for (std::size_t i = n; i-- > 0;) {
      run(i);
      done(i);
    }
  };
  auto a = run_search(space, defaults, objective, tune_options{}).value();
  auto b = run_search(space, defaults, objective, tune_options{}, backwards).value();
  REQUIRE(a.ranked.size() == b.ranked.size());
  for (std::size_t k = 0; k < a.ranked.size(); ++k) {
    CHECK(a.ranked[k].settings.values == b.ranked[k].settings.values);
    CHECK(a.ranked[k].loss == b.ranked[k].loss);
  }
  CHECK(a.work == b.work);
}

TEST_CASE("tune: a failing trial fails the search and names the candidate", "[tune]") {
  auto space = planted_space();
  auto objective = planted_objective(space);
  objective.evaluate = [](const candidate&, double, std::size_t) -> result<trial_score> {
    return error{errc::invalid_value, "model diverged"};
  };
  auto r = run_search(space, candidate{{10, 1, 0.1}, true}, objective, tune_options{});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("rank=") && Catch::Contains("model diverged"));
}

TEST_CASE("tune: the stream window is the last W ratings, scored on the newest", "[tune]") {
  rating_table t;
  for (int k = 0; k < 100; ++k)
    t.ratings.push_back({t.users.insert(k % 7), t.items.insert(k % 5), 3.0f, 1000 - k});
  auto f = window_fold(t, 40, 0.25, stream_order::time, 1).value();
  REQUIRE(f.train.size() == 30);
  REQUIRE(f.validation.size() == 10);
  // Time order is by timestamp: the window holds the 40 latest, validation the 10 latest.
  CHECK(f.train.ratings.front().timestamp == 961);
  CHECK(f.validation.ratings.front().timestamp == 991);
  CHECK(f.validation.ratings.back().timestamp == 1000);
  CHECK_FALSE(window_fold(t, 3, 0.1, stream_order::time, 1));
}

TEST_CASE("tune: batch ALS on planted data picks the planted rank and a sane lambda", "[tune][als]") {
  test::planted_params pp;
  pp.users = 200;
  pp.items = 150;
  pp.rank = 4;
  pp.noise = 0.3;
  pp.density = 0.25;
  auto data = test::make_planted(pp);
  tune_problem p;
  p.space.mode = tune_mode::batch;
  p.space.params = {parse_param("rank=1,2,4,8", tune_mode::batch).value(),
                    parse_param("lambda=0.001..1000:log", tune_mode::batch).value()};
  p.als.iterations = 6;
  p.folds = validation_folds(data.table, 0.2, 0, 42).value();
  auto r = run_search(p.space, default_candidate(p.space, p.als), make_objective(p),
                      tune_options{.trials = 24, .seed = 5}).value();
  const auto& best = r.ranked[r.best];
  INFO(describe(p.space, best.settings) << " rmse " << best.loss);
  CHECK(best.settings.values[0] >= 4);
  CHECK(best.settings.values[1] > 0.01);
  CHECK(best.settings.values[1] < 100);
  auto objective = make_objective(p);
  auto rank1 = objective.evaluate(candidate{{1, 1.0}}, 1.0, 0).value();
  CHECK(best.loss < loss_of(loss_kind::rmse, rank1.sum, rank1.count) - 0.05);
  CHECK(best.loss < 0.4);  // the noise is 0.3
  CHECK(r.work < r.unpruned_work);
}

TEST_CASE("tune: streaming on a planted window beats the slow-learning corner", "[tune][stream]") {
  test::planted_params pp;
  pp.users = 150;
  pp.items = 100;
  pp.density = 0.4;
  pp.noise = 0.2;
  auto data = test::make_planted(pp);
  tune_problem p;
  p.space.mode = tune_mode::stream;
  p.space.params = {parse_param("gamma=0.0003..0.3:log", tune_mode::stream).value(),
                    parse_param("passes=1,4", tune_mode::stream).value()};
  p.stream.batch_size = 200;
  p.folds = {window_fold(data.table, 4000, 0.2, stream_order::random, 9).value()};
  auto objective = make_objective(p);
  auto slow = objective.evaluate(candidate{{0.0003, 1}}, 1.0, 0).value();
  auto r = run_search(p.space, default_candidate(p.space, p.stream), objective,
                      tune_options{.search = search_kind::grid, .grid_points = 4}).value();
  const auto& best = r.ranked[r.best];
  INFO(describe(p.space, best.settings) << " rmse " << best.loss);
  CHECK(best.settings.values[0] >= 0.003);
  CHECK(best.loss < loss_of(loss_kind::rmse, slow.sum, slow.count) - 0.02);
  // Work: ratings streamed x passes, summed over the grid.
  CHECK(r.grid_work == 4u * (3200u * 1u + 3200u * 4u));
}
