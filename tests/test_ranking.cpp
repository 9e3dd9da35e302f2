// Ranking metrics (precision, recall, NDCG, MAP at k) against hand-computed values.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "recflow/model/ranking.hpp"

using namespace recflow;

namespace {

// 1 / log2(j + 1) for positions j = 1, 2, 3, 4, 5.
constexpr double d1 = 1.0, d2 = 0.6309297535714575, d3 = 0.5, d4 = 0.43067655807339306;

struct expected {
  std::size_t k;
  double precision, recall, ndcg, map;
};

/// A rank-1 model over users {1, 2} and items {100, 101, 102, 103} with mu 3, no biases,
/// U = 1 and P = 0.4, 0.3, 0.2, 0.1: every known user ranks 100 > 101 > 102 > 103.
/// User 1 rated item 100 in training.
factor_model tiny_model() {
  factor_model::parts p;
  p.rank = 1;
  p.mu = 3.0;
  p.mu_count = 1;
  for (std::int64_t u : {1, 2})
    p.users.insert(u);
  for (std::int64_t i : {100, 101, 102, 103})
    p.items.insert(i);
  p.user_bias = {0.0, 0.0};
  p.item_bias = {0.0, 0.0, 0.0, 0.0};
  p.U = {1.0, 1.0};
  p.P = {0.4, 0.3, 0.2, 0.1};
  p.user_count = {1, 1};
  p.item_count = {1, 1, 1, 1};
  p.rated.offsets = {0, 1, 1};
  p.rated.items = {0};
  auto m = factor_model::from_parts(std::move(p));
  REQUIRE(m);
  return std::move(*m);
}

}  // namespace

TEST_CASE("ranking: one list scores as Spark's RankingMetrics by hand", "[ranking]") {
  // Ranked 10 20 30 40 50; relevant {20, 40, 60}: hits at positions 2 and 4.
  const std::vector<std::int64_t> ranked{10, 20, 30, 40, 50};
  const std::vector<std::int64_t> relevant{20, 40, 60};
  auto e = GENERATE(
    // k = 5: 2 hits. precision 2/5, recall 2/3. DCG = d2 + d4; IDCG over min(5, 3) = 3
    // positions = d1 + d2 + d3. AP = (1/2 + 2/4) / min(5, 3) = 1/3.
    expected{5, 2.0 / 5, 2.0 / 3, (d2 + d4) / (d1 + d2 + d3), 1.0 / 3},
    // k = 3: one hit (position 2). precision 1/3, recall 1/3, NDCG d2 / (d1 + d2 + d3),
    // AP = (1/2) / 3 = 1/6.
    expected{3, 1.0 / 3, 1.0 / 3, d2 / (d1 + d2 + d3), 1.0 / 6},
    // k = 1: no hit: all 0.
    expected{1, 0.0, 0.0, 0.0, 0.0},
    // k = 2: one hit at 2. precision 1/2, recall 1/3, NDCG d2 / (d1 + d2) (IDCG over
    // min(2, 3) = 2), AP = (1/2) / 2 = 1/4.
    expected{2, 1.0 / 2, 1.0 / 3, d2 / (d1 + d2), 1.0 / 4});
  CAPTURE(e.k);
  auto m = ranking_of(ranked, relevant, e.k);
  CHECK(m.users == 1);
  CHECK(m.k == e.k);
  CHECK(m.precision == Approx(e.precision));
  CHECK(m.recall == Approx(e.recall));
  CHECK(m.ndcg == Approx(e.ndcg));
  CHECK(m.map == Approx(e.map));
}

TEST_CASE("ranking: k beyond the ranked list still divides precision by k", "[ranking]") {
  // Only 2 items could be ranked; relevant {20} is first. precision 1/10 (Spark divides
  // by k), recall 1, NDCG 1/1, AP (1/1) / min(10, 1) = 1.
  const std::vector<std::int64_t> ranked{20, 10};
  const std::vector<std::int64_t> relevant{20};
  auto m = ranking_of(ranked, relevant, 10);
  CHECK(m.precision == Approx(0.1));
  CHECK(m.recall == Approx(1.0));
  CHECK(m.ndcg == Approx(1.0));
  CHECK(m.map == Approx(1.0));
}

TEST_CASE("ranking: a user without relevant items is left out, not counted as 0", "[ranking]") {
  const std::vector<std::int64_t> ranked{1, 2, 3};
  auto m = ranking_of(ranked, {}, 3);
  CHECK(m.users == 0);
  CHECK(m.users_without_relevant == 1);
  CHECK(m.precision == 0.0);
}

TEST_CASE("ranking: a model's top-k skips training items, maps ids, averages users", "[ranking]") {
  auto model = tiny_model();
  // The test table has its own id space, in another order than the model's.
  rating_table test;
  const index_t u3 = test.users.insert(3);  // unknown to the model
  const index_t u2 = test.users.insert(2);
  const index_t u1 = test.users.insert(1);
  const index_t i103 = test.items.insert(103), i102 = test.items.insert(102);
  const index_t i101 = test.items.insert(101), i100 = test.items.insert(100);
  test.ratings = {
    {u1, i101, 5.0f, 0}, {u1, i103, 4.0f, 0}, {u1, i102, 2.0f, 0},  // relevant {101, 103}
    {u2, i102, 3.0f, 0},                                             // nothing relevant
    {u3, i100, 5.0f, 0}, {u3, i100, 5.0f, 0},                        // {100}, a duplicate
  };
  auto m = evaluate_ranking(model, test, {.k = 2, .relevance = 4.0});
  // User 1: 100 was rated in training, so the list is [101, 102]: a hit at 1 of 2
  //   relevant. precision 1/2, recall 1/2, NDCG d1 / (d1 + d2), AP (1/1) / min(2, 2) = 1/2.
  // User 3 is unknown: bias ranking, all biases 0, ties by index: [100, 101]. A hit at
  //   1 of 1. precision 1/2, recall 1, NDCG 1, AP 1.
  // User 2 has no relevant rating and is left out.
  CHECK(m.users == 2);
  CHECK(m.users_without_relevant == 1);
  CHECK(m.k == 2);
  CHECK(m.precision == Approx(0.5));
  CHECK(m.recall == Approx((0.5 + 1.0) / 2));
  CHECK(m.ndcg == Approx((d1 / (d1 + d2) + 1.0) / 2));
  CHECK(m.map == Approx((0.5 + 1.0) / 2));

  SECTION("a higher threshold makes 4-star ratings irrelevant") {
    // User 1's relevant set is now {101}: list [101, 102], hit at 1: precision 1/2,
    // recall 1, NDCG 1, AP 1; user 3 as before.
    auto strict = evaluate_ranking(model, test, {.k = 2, .relevance = 4.5});
    CHECK(strict.users == 2);
    CHECK(strict.recall == Approx(1.0));
    CHECK(strict.ndcg == Approx(1.0));
    CHECK(strict.map == Approx(1.0));
  }
  SECTION("k larger than the catalogue ranks every candidate") {
    // User 1: [101, 102, 103], hits at 1 and 3 of relevant {101, 103}; precision 2/10,
    //   recall 1, NDCG (d1 + d3) / (d1 + d2), AP (1/1 + 2/3) / min(10, 2) = 5/6.
    // User 3: [100, 101, 102, 103], hit at 1: precision 1/10, recall 1, NDCG 1, AP 1.
    auto wide = evaluate_ranking(model, test, {.k = 10, .relevance = 4.0});
    CHECK(wide.precision == Approx((0.2 + 0.1) / 2));
    CHECK(wide.recall == Approx(1.0));
    CHECK(wide.ndcg == Approx(((d1 + d3) / (d1 + d2) + 1.0) / 2));
    CHECK(wide.map == Approx((5.0 / 6 + 1.0) / 2));
  }
}

TEST_CASE("ranking: options are checked", "[ranking]") {
  CHECK(static_cast<bool>(validate(ranking_options{})));
  CHECK_FALSE(static_cast<bool>(validate(ranking_options{.k = 0})));
}
