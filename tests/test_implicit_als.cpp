// Implicit ALS (Hu, Koren, Volinsky 2008): planted preferences, the two solvers, the
// objective through Y^T Y, and bad parameters.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "recflow/model/als_solver.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/random.hpp"
#include "recflow/model/recommend.hpp"
#include "planted_groups.hpp"

using namespace recflow;

namespace {

/// A small random problem for one solve: Y (n_other x k), an entity's events.
struct one_solve {
  factor_table other{4};
  std::vector<index_t> cols{0, 3, 5, 6};
  std::vector<float> weights{1.0f, 4.0f, 2.0f, 0.5f};
};

one_solve make_solve() {
  one_solve s;
  s.other.resize(8);
  splitmix64 rng(3);
  for (auto& v : s.other.data())
    v = static_cast<float>(rng.normal(0.5));
  return s;
}

}  // namespace

TEST_CASE("implicit als: a planted data set ranks each user's unseen group items first",
          "[model][implicit]") {
  auto d = test::make_planted_groups();
  auto solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  auto form = GENERATE(confidence_form::linear, confidence_form::log);
  implicit_params p;
  p.rank = 3;         // one dimension per group
  p.iterations = 20;  // CG's 3 steps per solve need more sweeps than exact solves
  p.lambda = 0.1;
  p.alpha = 5.0;
  p.solver = solver;
  p.confidence = form;
  p.init_stddev = 0.1;
  auto m = train_implicit_als(d.table, p);
  REQUIRE(m);
  CHECK(m->n_users() == 60);
  CHECK(m->n_items() == 30);
  CHECK(m->mu() == 0.0);
  int misplaced = 0;
  for (index_t u = 0; u < m->n_users(); ++u) {
    auto group = m->users().external(u) / test::planted_groups::users_per_group;
    auto top = recommend(*m, u, {.n = 4, .exclude_rated = true, .candidates = {}, .scan = nullptr});
    REQUIRE(top.size() == 4);
    for (const auto& s : top)
      misplaced += (s.external_id - 1000) / test::planted_groups::items_per_group != group ? 1 : 0;
  }
  INFO("solver " << (solver == implicit_solver::cg ? "cg" : "cholesky"));
  CHECK(misplaced == 0);
}

TEST_CASE("implicit als: conjugate gradient converges to the Cholesky solution",
          "[model][implicit]") {
  auto s = make_solve();
  implicit_params p;
  p.rank = 4;
  p.alpha = 3.0;
  p.lambda = 0.5;
  implicit_als_solver exact(p);
  exact.prepare(s.other);
  std::vector<float> x_exact(4, 0.0f);
  exact.solve(s.cols, s.weights, s.other, x_exact);

  auto steps = GENERATE(1, 2, 8);
  p.solver = implicit_solver::cg;
  p.cg_steps = steps;
  implicit_als_solver cg(p);
  cg.prepare(s.other);
  std::vector<float> x{0.1f, -0.2f, 0.3f, 0.0f};
  double before = 0.0, after = 0.0;
  for (std::size_t a = 0; a < 4; ++a)
    before += std::pow(double(x[a]) - x_exact[a], 2);
  cg.solve(s.cols, s.weights, s.other, x);
  for (std::size_t a = 0; a < 4; ++a)
    after += std::pow(double(x[a]) - x_exact[a], 2);
  INFO("cg steps " << steps << ": distance " << std::sqrt(before) << " -> " << std::sqrt(after));
  CHECK(after < before);
  if (steps >= 4)  // k steps solve a k x k system exactly, up to rounding
    CHECK(std::sqrt(after) < 1e-5);
}

TEST_CASE("implicit als: the Y^T Y objective equals the sum over every pair, and Cholesky "
          "sweeps never raise it", "[model][implicit]") {
  auto d = test::make_planted_groups();
  implicit_params p;
  p.rank = 3;
  p.iterations = 1;
  p.alpha = 2.0;
  p.lambda = 0.3;
  p.lambda_exponent = 0.5;
  p.recency_boost = 0.0;  // the weights as read
  p.missing_exponent = GENERATE(0.0, 0.7);
  INFO("missing exponent " << p.missing_exponent);
  auto blocks = als_training_blocks(d.table);
  REQUIRE(blocks);
  const auto missing = missing_weights(*blocks, p);
  std::vector<double> objective;
  auto m = train_implicit_als(d.table, p, [&](int, double v) { objective.push_back(v); });
  REQUIRE(m);
  // Brute force over all 60 x 30 pairs.
  double brute = 0.0;
  for (index_t u = 0; u < blocks->n_users(); ++u) {
    auto cols = blocks->by_user.cols_of(u);
    auto w = blocks->by_user.values_of(u);
    for (index_t i = 0; i < blocks->n_items(); ++i) {
      double s = m->U().row(u).cast<double>().dot(m->P().row(i).cast<double>());
      double c = missing[i], pref = 0.0;
      for (std::size_t j = 0; j < cols.size(); ++j)
        if (cols[j] == i)
          c = confidence(p, w[j]), pref = 1.0;
      brute += c * (pref - s) * (pref - s);
    }
    brute += p.lambda * std::sqrt(double(cols.size())) * m->U().row(u).cast<double>().squaredNorm();
  }
  for (index_t i = 0; i < blocks->n_items(); ++i)
    brute += p.lambda * std::sqrt(double(blocks->by_item.count(i)))
             * m->P().row(i).cast<double>().squaredNorm();
  REQUIRE(objective.size() == 1);
  CHECK(objective[0] == Approx(brute).epsilon(1e-9));

  p.iterations = 6;
  objective.clear();
  REQUIRE(train_implicit_als(d.table, p, [&](int, double v) { objective.push_back(v); }));
  for (std::size_t k = 1; k < objective.size(); ++k)
    CHECK(objective[k] <= objective[k - 1] * (1 + 1e-6));  // float storage rounds
}

TEST_CASE("implicit als: missing pairs weigh n_i^exponent, mean 1", "[model][implicit]") {
  rating_table t;
  for (std::int64_t i = 1; i <= 3; ++i)
    t.items.insert(i);
  for (std::int64_t u = 1; u <= 4; ++u)
    t.users.insert(u);
  // item 1: 4 events, item 2: 1, item 3: 1
  t.ratings = {{0, 0, 1.0f, 0}, {1, 0, 1.0f, 0}, {2, 0, 1.0f, 0}, {3, 0, 1.0f, 0},
               {0, 1, 1.0f, 0}, {1, 2, 1.0f, 0}};
  auto blocks = als_training_blocks(t);
  REQUIRE(blocks);
  implicit_params p;
  CHECK(missing_weights(*blocks, p) == std::vector<double>{1.0, 1.0, 1.0});
  p.missing_exponent = 0.5;  // 2, 1, 1 scaled to mean 1
  auto m = missing_weights(*blocks, p);
  REQUIRE(m.size() == 3);
  CHECK(m[0] == Approx(1.5));
  CHECK(m[1] == Approx(0.75));
  CHECK(m[2] == Approx(0.75));
}

TEST_CASE("implicit als: recency multiplies each user's latest events' weights",
          "[model][implicit]") {
  implicit_params p;
  p.recency_boost = 4.0;
  p.recency_half_life = 1.0;
  // user 0: t 10, 20, 20, 30 (in file order 20, 10, 30, 20); user 1: no timestamps
  std::vector<rating> rs{{0, 0, 1.0f, 20}, {0, 1, 2.0f, 10}, {0, 2, 1.0f, 30},
                         {0, 3, 1.0f, 20}, {1, 0, 1.0f, 0},  {1, 1, 3.0f, 0}};
  apply_recency(rs, p);
  CHECK(rs[2].value == Approx(5.0));         // the latest: 1 + 4
  CHECK(rs[0].value == Approx(3.0));         // one later event: 1 + 4 / 2
  CHECK(rs[3].value == Approx(3.0));         // its tie too
  CHECK(rs[1].value == Approx(2.0 * 1.5));   // three later: 1 + 4 / 8, times the weight 2
  CHECK(rs[4].value == Approx(5.0));         // no timestamps: all latest
  CHECK(rs[5].value == Approx(15.0));
  for (std::size_t j = 0; j < rs.size(); ++j)
    CHECK(rs[j].item == index_t(j < 4 ? j : j - 4));  // the order is kept

  p.recency_boost = 0.0;
  auto before = rs;
  apply_recency(rs, p);
  for (std::size_t j = 0; j < rs.size(); ++j)
    CHECK(rs[j].value == before[j].value);
}

TEST_CASE("implicit als: BM25 and TF-IDF weights, the same in both directions",
          "[model][implicit]") {
  rating_table t;
  for (std::int64_t i = 1; i <= 5; ++i)
    t.items.insert(i);
  for (std::int64_t u = 1; u <= 3; ++u)
    t.users.insert(u);
  // user 0: items 0, 1 (weights 1, 3); user 1: item 0 (2); user 2: items 2, 3, 4 (1 each)
  t.ratings = {{0, 0, 1.0f, 0}, {0, 1, 3.0f, 0}, {1, 0, 2.0f, 0},
               {2, 2, 1.0f, 0}, {2, 3, 1.0f, 0}, {2, 4, 1.0f, 0}};
  auto blocks = als_training_blocks(t);
  REQUIRE(blocks);
  REQUIRE(blocks->n_items() == 5);
  implicit_params p;
  p.weighting = GENERATE(event_weighting::bm25, event_weighting::tfidf);
  p.bm25_k1 = 10.0;
  p.bm25_b = 0.5;
  apply_event_weighting(*blocks, p);
  // Items are the documents: idf_u = log 5 - log1p(n_u); item lengths 3, 3, 1, 1, 1.
  const double idf0 = std::log(5.0) - std::log(3.0);
  const double norm1 = 0.5 + 0.5 * 3.0 / 1.8;
  const double expected = p.weighting == event_weighting::tfidf
                              ? std::sqrt(3.0) * idf0
                              : 3.0 * 11.0 / (10.0 * norm1 + 3.0) * idf0;
  auto value = [](const rating_csr& rows, index_t row, index_t col) {
    auto cols = rows.cols_of(row);
    for (std::size_t j = 0; j < cols.size(); ++j)
      if (cols[j] == col)
        return double(rows.values_of(row)[j]);
    return -1.0;
  };
  const index_t u0 = 0, i1 = 1;
  REQUIRE(blocks->user_of[u0] == 0);
  REQUIRE(blocks->item_of[i1] == 1);
  CHECK(value(blocks->by_user, u0, i1) == Approx(expected).epsilon(1e-6));
  CHECK(value(blocks->by_item, i1, u0) == Approx(expected).epsilon(1e-6));
  for (index_t u = 0; u < blocks->n_users(); ++u)
    for (auto i : blocks->by_user.cols_of(u))
      CHECK(value(blocks->by_user, u, i) == value(blocks->by_item, i, u));
}

TEST_CASE("implicit als: confidence forms", "[model][implicit]") {
  implicit_params p;
  p.alpha = 2.0;
  CHECK(confidence(p, 3.0) == 7.0);
  p.confidence = confidence_form::log;
  p.epsilon = 0.5;
  CHECK(confidence(p, 3.0) == Approx(1.0 + 2.0 * std::log(7.0)));
}

TEST_CASE("implicit als: bad parameters and bad events are errors with a reason",
          "[model][implicit]") {
  auto d = test::make_planted_groups();
  struct bad {
    implicit_params p;
    const char* reason;
  };
  auto with = [](auto change) {
    implicit_params p;
    change(p);
    return p;
  };
  auto b = GENERATE_COPY(
      bad{with([](implicit_params& p) { p.rank = 0; }), "rank must be positive, got 0"},
      bad{with([](implicit_params& p) { p.alpha = -1; }), "alpha must be non-negative"},
      bad{with([](implicit_params& p) { p.lambda = NAN; }), "lambda must be non-negative"},
      bad{with([](implicit_params& p) { p.epsilon = 0; }), "epsilon must be positive"},
      bad{with([](implicit_params& p) { p.cg_steps = 0; }), "cg steps must be positive"},
      bad{with([](implicit_params& p) { p.iterations = 0; }), "iterations must be positive"},
      bad{with([](implicit_params& p) { p.recency_boost = -1; }),
          "recency boost must be non-negative"},
      bad{with([](implicit_params& p) { p.recency_half_life = 0; }),
          "recency half-life must be positive"},
      bad{with([](implicit_params& p) { p.bm25_b = 2; }), "bm25 b must be in 0..1"},
      bad{with([](implicit_params& p) { p.missing_exponent = -1; }),
          "missing exponent must be non-negative"});
  auto m = train_implicit_als(d.table, b.p);
  REQUIRE_FALSE(m);
  CHECK(m.err().message.find(b.reason) == 0);

  auto empty = train_implicit_als(d.table.with_ratings({}), implicit_params{});
  REQUIRE_FALSE(empty);
  CHECK(empty.err().message == "training set is empty: ALS needs at least one event");
  auto negative = d.table;
  negative.ratings[3].value = -1.0f;
  CHECK_FALSE(train_implicit_als(negative, implicit_params{}));
}
