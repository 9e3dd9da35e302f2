#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/split.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

// The planted set of the ALS tests: 300 users x 200 items, rank 3, noise 0.1, 30% dense.
test::planted_data planted() {
  test::planted_params p;
  p.users = 300;
  p.items = 200;
  p.rank = 3;
  p.density = 0.3;
  p.noise = 0.1;
  p.seed = 11;
  p.scale = {-1.0, 7.0};  // wide enough that no rating is clamped
  return test::make_planted(p);
}

// Small-rank parameters for the planted set, weighted or not.
als_params planted_params(bias_mode mode, bool weighted) {
  als_params p;
  p.rank = 3;
  p.iterations = 15;
  p.biases = mode;
  p.weighted_lambda = weighted;
  p.lambda = weighted ? 0.01 : 0.5;
  p.lambda_bias = p.lambda;
  return p;
}

double rmse_against(const factor_model& m, const rating_table& t,
                    std::span<const double> truth) {
  std::vector<double> predictions;
  for (const auto& r : t.ratings)
    predictions.push_back(m.predict_external(t.users.external(r.user), t.items.external(r.item)));
  return error_of(predictions, truth).rmse;
}

}  // namespace

TEST_CASE("als: validate explains what is wrong with the parameters", "[als]") {
  using mutate = std::function<void(als_params&)>;
  auto [change, message] = GENERATE(table<mutate, std::string>({
    {[](als_params& p) { p.rank = 0; }, "rank must be positive, got 0"},
    {[](als_params& p) { p.rank = -3; }, "rank must be positive, got -3"},
    {[](als_params& p) { p.iterations = 0; }, "iterations must be positive, got 0"},
    {[](als_params& p) { p.lambda = -0.1; }, "lambda must be non-negative and finite"},
    {[](als_params& p) { p.lambda = NAN; }, "lambda must be non-negative and finite, got nan"},
    {[](als_params& p) { p.lambda_bias = INFINITY; },
     "lambda_bias must be non-negative and finite, got inf"},
    {[](als_params& p) { p.lambda_exponent = -1; }, "lambda_exponent must be non-negative"},
    {[](als_params& p) { p.init_stddev = -1; }, "init_stddev must be non-negative"},
  }));
  CHECK(validate(als_params{}));
  als_params p;
  change(p);
  auto v = validate(p);
  REQUIRE_FALSE(v);
  CHECK(v.err().code == errc::invalid_argument);
  CHECK(v.err().message.rfind(message, 0) == 0);
  auto trained = train_als(planted().table, p);
  REQUIRE_FALSE(trained);
  CHECK(trained.err().message == v.err().message);
}

TEST_CASE("als: an empty training set is an error, not an empty model", "[als]") {
  rating_table empty;
  empty.users.insert(1);
  empty.items.insert(1);
  auto m = train_als(empty, als_params{});
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::invalid_argument);
  CHECK(m.err().message.find("empty") != std::string::npos);
}

TEST_CASE("als: ratings naming ids outside the table are rejected", "[als]") {
  auto data = planted();
  data.table.ratings.push_back({data.table.users.size(), 0, 3.0f, 0});
  auto m = train_als(data.table, als_params{});
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::invalid_value);
}

TEST_CASE("als: recovers a planted rank-3 model to the noise level", "[als]") {
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto weighted = GENERATE(true, false);
  CAPTURE(mode == bias_mode::joint ? "joint" : "alternate", weighted);
  auto data = planted();
  auto split = random_split(data.table.ratings, 0.8, 5);
  auto train = data.table.with_ratings(split.train);
  auto test = data.table.with_ratings(split.test);
  auto m = train_als(train, planted_params(mode, weighted));
  REQUIRE(m);
  double test_rmse = evaluate(*m, test).rmse;
  // Noise-free values of the test ratings (same split permutation over `clean`).
  std::vector<rating> tagged = data.table.ratings;
  for (std::size_t k = 0; k < tagged.size(); ++k)
    tagged[k].timestamp = std::int64_t(k);
  auto tagged_split = random_split(tagged, 0.8, 5);
  std::vector<double> clean;
  for (const auto& r : tagged_split.test)
    clean.push_back(data.clean[std::size_t(r.timestamp)]);
  double clean_rmse = rmse_against(*m, test, clean);
  INFO("test RMSE " << test_rmse << ", RMSE against noise-free values " << clean_rmse);
  CHECK(test_rmse < 0.12);   // noise stddev is 0.1
  CHECK(clean_rmse < 0.06);  // the planted signal itself is recovered
}

TEST_CASE("als: every sweep lowers the objective, and training RMSE falls at first", "[als]") {
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto weighted = GENERATE(true, false);
  CAPTURE(mode == bias_mode::joint ? "joint" : "alternate", weighted);
  auto data = planted();
  auto blocks = rating_blocks::build(data.table.ratings, data.table.users.size(),
                                     data.table.items.size());
  auto p = planted_params(mode, weighted);
  auto m = als_initial_model(data.table, blocks, p);
  als_solver solver(p);
  std::vector<double> objective{als_objective(m, blocks, p)};
  std::vector<double> rmse{training_rmse(m, blocks.by_user)};
  for (int sweep = 0; sweep < 10; ++sweep) {
    als_sweep(blocks, m, solver);
    objective.push_back(als_objective(m, blocks, p));
    rmse.push_back(training_rmse(m, blocks.by_user));
  }
  // Exact block minimisation never raises the regularised objective (up to rounding).
  for (std::size_t k = 1; k < objective.size(); ++k)
    CHECK(objective[k] <= objective[k - 1] * (1.0 + 1e-12));
  // The RMSE alone need not fall once the fit trades error for smaller factors (it
  // rises by ~1e-5 after sweep 4 unweighted), but the first sweeps lower it.
  for (std::size_t k = 1; k <= 3; ++k)
    CHECK(rmse[k] < rmse[k - 1]);
  CHECK(rmse.back() < 0.1);  // fits down to the noise (0.1) on its own training set
}

TEST_CASE("als: a single sweep lowers training RMSE from the initial model", "[als]") {
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto weighted = GENERATE(true, false);
  auto data = planted();
  auto blocks = rating_blocks::build(data.table.ratings, data.table.users.size(),
                                     data.table.items.size());
  auto p = planted_params(mode, weighted);
  p.iterations = 1;
  double before = training_rmse(als_initial_model(data.table, blocks, p), blocks.by_user);
  double after = 0.0;
  auto m = train_als(data.table, p, [&](int, double r) { after = r; });
  REQUIRE(m);
  CHECK(training_rmse(*m, blocks.by_user) == after);
  CHECK(after < 0.75 * before);
}

TEST_CASE("als: the same seed gives a bitwise identical model", "[als]") {
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto data = planted();
  auto p = planted_params(mode, true);
  p.iterations = 3;
  auto a = train_als(data.table, p);
  auto b = train_als(data.table, p);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == *b);
  p.seed += 1;
  auto c = train_als(data.table, p);
  REQUIRE(c);
  CHECK_FALSE(*a == *c);
}

TEST_CASE("als: every way of accumulating the normal equations gives the same model",
          "[als]") {
  auto data = planted();
  auto p = planted_params(bias_mode::joint, true);
  p.rank = 8;
  p.iterations = 3;
  auto reference = train_als(data.table, p).value();
  auto method = GENERATE(normal_equations::rank_one, normal_equations::naive);
  p.method = method;
  auto m = train_als(data.table, p).value();
  REQUIRE(m.n_users() == reference.n_users());
  for (index_t u = 0; u < m.n_users(); ++u) {
    CHECK(m.user_bias()[u] == Approx(reference.user_bias()[u]).margin(1e-9));
    CHECK((m.U().row(u) - reference.U().row(u)).norm() < 1e-9);
  }
}

TEST_CASE("als: the model holds exactly the users and items rated in training", "[als]") {
  // Ids 1..4 with ratings in train; id 9 (user) and 90 (item) only in the table's maps.
  rating_table t;
  t.users.insert(9);
  for (std::int64_t id : {3, 1, 4, 2})
    t.users.insert(id);
  for (std::int64_t id : {30, 90, 10, 20})
    t.items.insert(id);
  auto u = [&](std::int64_t id) { return t.users.find(id); };
  auto i = [&](std::int64_t id) { return t.items.find(id); };
  t.ratings = {{u(1), i(10), 4.0f, 0}, {u(1), i(20), 3.0f, 0}, {u(2), i(10), 5.0f, 0},
               {u(3), i(30), 2.0f, 0}, {u(4), i(20), 1.0f, 0}, {u(4), i(10), 4.0f, 0},
               {u(4), i(30), 3.0f, 0}};
  als_params p;
  p.rank = 2;
  p.iterations = 2;
  auto m = train_als(t, p).value();
  CHECK(m.users().externals() == std::vector<std::int64_t>{3, 1, 4, 2});
  CHECK(m.items().externals() == std::vector<std::int64_t>{30, 10, 20});
  CHECK(m.user_count() == std::vector<std::uint32_t>{1, 2, 3, 1});
  CHECK(m.item_count() == std::vector<std::uint32_t>{2, 3, 2});
  CHECK(m.mu() == Approx(22.0 / 7.0));
  CHECK(m.mu_count() == 7);
  auto rated4 = m.rated().of(m.users().find(4));
  CHECK(std::vector<index_t>(rated4.begin(), rated4.end()) == std::vector<index_t>{0, 1, 2});
  CHECK_FALSE(m.users().contains(9));
  CHECK_FALSE(m.items().contains(90));
  CHECK(m.rank() == 2);
}

TEST_CASE("als: without regularisation, entities with few ratings stay finite", "[als]") {
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto data = planted();
  // Keep only a handful of ratings for the first users, fewer than the rank.
  std::vector<rating> sparse;
  for (const auto& r : data.table.ratings)
    if (r.user >= 10 || r.item < 2)
      sparse.push_back(r);
  als_params p;
  p.rank = 5;
  p.iterations = 3;
  p.lambda = 0.0;
  p.lambda_bias = 0.0;
  p.biases = mode;
  auto m = train_als(data.table.with_ratings(sparse), p).value();
  for (index_t u = 0; u < m.n_users(); ++u) {
    CHECK(std::isfinite(m.user_bias()[u]));
    CHECK(m.U().row(u).allFinite());
  }
}

TEST_CASE("als: MovieLens 100K u1..u5 with the shipped defaults", "[als][accuracy]") {
  auto dir = test::data_dir() + "/ml-100k/";
  double sum = 0.0;
  std::string per_fold;
  for (int fold = 1; fold <= 5; ++fold) {
    rating_table train, test;
    auto name = dir + "u" + std::to_string(fold);
    REQUIRE(read_ratings_into(name + ".base", {}, train));
    REQUIRE(read_ratings_into(name + ".test", {}, test));
    auto m = train_als(train, als_params{});
    REQUIRE(m);
    double rmse = evaluate(*m, test).rmse;
    sum += rmse;
    char line[64];
    std::snprintf(line, sizeof line, " u%d %.4f", fold, rmse);
    per_fold += line;
  }
  double mean = sum / 5.0;
  std::printf("ALS defaults, MovieLens 100K test RMSE:%s, mean %.4f\n", per_fold.c_str(), mean);
  INFO("per fold:" << per_fold << "; mean " << mean);
  CHECK(mean <= 0.910);
}
