// Top-N scans (model/top_n.hpp) and similar items (model/similar.hpp): the
// single-precision scan table only picks candidates, so their lists and scores are the
// double scan's, including where float cannot tell items apart, with exact ties,
// exclusions, unknown items, zero vectors and a table of another model.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include "recflow/model/recommend.hpp"
#include "recflow/model/similar.hpp"
#include "recflow/model/top_n.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// `items` items of rank `rank` with the given rows and biases, all known but `unknown`.
factor_model model_of(int rank, const std::vector<std::vector<double>>& rows, std::vector<double> bias,
                      std::vector<index_t> unknown = {}) {
  factor_model::parts p;
  p.rank = rank;
  p.mu = 3.0;
  p.mu_count = 1;
  p.users.insert(1);
  p.user_bias = {0.0};
  p.U.assign(std::size_t(rank), 0.0);
  p.user_count = {1};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    p.items.insert(std::int64_t(1000 + i));
    p.P.insert(p.P.end(), rows[i].begin(), rows[i].end());
    p.item_count.push_back(1);
  }
  for (auto i : unknown)
    p.item_count[i] = 0;
  p.item_bias = std::move(bias);
  auto m = factor_model::from_parts(std::move(p));
  REQUIRE(m);
  return std::move(*m);
}

void require_same(const std::vector<scored_item>& got, const std::vector<scored_item>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("rank " << k);
    CHECK(got[k].item == want[k].item);
    CHECK(got[k].external_id == want[k].external_id);
    CHECK(got[k].score == Approx(want[k].score).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("scan table: the double scan's lists for trained-like models, any n, with exclusions",
          "[model][serve][top_n]") {
  auto rank = GENERATE(8, 50);
  test::planted_params pp;
  pp.users = 30;
  pp.items = 2000;
  pp.rank = rank;
  auto data = test::make_planted(pp);
  auto m = data.truth;
  m.rated() = rated_items::build(data.table.ratings, m.n_users());
  auto table = item_scan_table::build(m);
  REQUIRE(table.fits(m));
  auto n = GENERATE(std::size_t(1), std::size_t(10), std::size_t(100), std::size_t(5000));
  INFO("rank " << rank << ", n " << n);
  for (index_t u = 0; u < m.n_users(); ++u) {
    auto row = m.U().row(u);
    std::span<const float> x(row.data(), std::size_t(rank));
    double base = m.mu() + m.user_bias()[u];
    auto plain = scan_top_n(m, x, base, m.rated().of(u), n);
    auto fast = scan_top_n(m, x, base, m.rated().of(u), n, {}, &table);
    require_same(fast, plain);
    require_same(fast, recommend(m, u, {.n = n}));
  }
}

TEST_CASE("scan table: items float cannot tell apart still rank as in double", "[model][serve][top_n]") {
  // 300 items whose first factor steps by one float ulp (2^-24 at 0.5); with a weight of
  // 2^-6 on it the scores step by 2^-30, while a float sum near 0.12 steps by 2^-27: in
  // float about eight neighbours tie and ties go to the lower index; in double (where
  // products of floats are exact) the top 10 are the last ten.
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 300; ++i)
    rows.push_back({0.5 + i * 0x1p-24, 0.3, -0.2, 0.1});
  auto m = model_of(4, rows, std::vector<double>(300, 0.0));
  std::vector<float> x{0x1p-6f, 0.5f, 0.25f, 0.125f};
  auto table = item_scan_table::build(m);
  auto plain = scan_top_n(m, x, 3.0, {}, 10);
  auto fast = scan_top_n(m, x, 3.0, {}, 10, {}, &table);
  require_same(fast, plain);
  REQUIRE(fast.size() == 10);
  for (std::size_t k = 0; k < 10; ++k)
    CHECK(fast[k].item == index_t(299 - k));
  // Rows apart by less than float's rounding of them: float orders them at random, and
  // only the rescoring within the rounding bound recovers the double order.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> tiny(-1e-7, 1e-7);
  std::vector<std::vector<double>> noisy;
  for (int i = 0; i < 300; ++i)
    noisy.push_back({0.8 + tiny(rng), 0.3 + tiny(rng), -0.2 + tiny(rng), 0.1 + tiny(rng)});
  auto m3 = model_of(4, noisy, std::vector<double>(300, 0.0));
  auto t3 = item_scan_table::build(m3);
  for (std::size_t n : {1, 10, 50}) {
    INFO("noisy rows, n " << n);
    require_same(scan_top_n(m3, x, 3.0, {}, n, {}, &t3), scan_top_n(m3, x, 3.0, {}, n));
  }
  // The same with biases carrying the difference instead.
  std::vector<double> bias;
  for (int i = 0; i < 300; ++i)
    bias.push_back(i % 7 == 3 ? 1e-9 * i : 0.0);
  auto m2 = model_of(4, std::vector<std::vector<double>>(300, {0.8, 0.3, -0.2, 0.1}), bias);
  auto t2 = item_scan_table::build(m2);
  require_same(scan_top_n(m2, x, 3.0, {}, 10, {}, &t2), scan_top_n(m2, x, 3.0, {}, 10));
  CHECK(scan_top_n(m2, x, 3.0, {}, 10, {}, &t2)[0].item == 297);  // the largest i with i % 7 == 3
}

TEST_CASE("scan table: exact ties by lower index, exclusions, unknown items, fewer than n",
          "[model][serve][top_n]") {
  // Items 0, 2, 4 identical (and best), 1 unknown, 3 excluded, 5 worst.
  std::vector<std::vector<double>> rows{{1, 1}, {5, 5}, {1, 1}, {3, 3}, {1, 1}, {-1, 0}};
  auto m = model_of(2, rows, {0, 0, 0, 0, 0, 0}, {1});
  auto table = item_scan_table::build(m);
  std::vector<float> x{1.0, 1.0};
  std::vector<index_t> excluded{3};
  for (std::size_t n : {1, 2, 3, 10}) {
    INFO("n " << n);
    auto plain = scan_top_n(m, x, 0.0, excluded, n);
    auto fast = scan_top_n(m, x, 0.0, excluded, n, {}, &table);
    require_same(fast, plain);
    std::vector<index_t> want{0, 2, 4, 5};
    want.resize(std::min<std::size_t>(n, 4));
    REQUIRE(fast.size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k)
      CHECK(fast[k].item == want[k]);
  }
  CHECK(scan_top_n(m, x, 0.0, excluded, 0, {}, &table).empty());
  // A zero user vector: every score is its bias (all 0 here): lowest indices first.
  std::vector<float> zero{0.0, 0.0};
  require_same(scan_top_n(m, zero, 0.0, {}, 3, {}, &table), scan_top_n(m, zero, 0.0, {}, 3));
}

TEST_CASE("scan table: a table of another model is not used", "[model][serve][top_n]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g(0.0, 0.5);
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 400; ++i)
    rows.push_back({g(rng), g(rng), g(rng)});
  auto small = model_of(3, std::vector<std::vector<double>>(rows.begin(), rows.begin() + 200),
                        std::vector<double>(200, 0.1));
  auto big = model_of(3, rows, std::vector<double>(400, 0.1));
  auto stale = item_scan_table::build(small);
  CHECK_FALSE(stale.fits(big));
  std::vector<float> x{0.3, -0.7, 1.1};
  auto want = scan_top_n(big, x, 3.0, {}, 20);
  require_same(scan_top_n(big, x, 3.0, {}, 20, {}, &stale), want);
  // Candidate lists take the double path whatever the table.
  std::vector<index_t> only{5, 300, 7, 399};
  auto some = scan_top_n(big, x, 3.0, {}, 2, only, &stale);
  require_same(some, scan_top_n(big, x, 3.0, {}, 2, only));
}

TEST_CASE("scan table: similar items are the double computation's", "[model][serve][top_n]") {
  auto rank = GENERATE(8, 50);
  test::planted_params pp;
  pp.users = 10;
  pp.items = 1500;
  pp.rank = rank;
  auto m = test::make_planted(pp).truth;
  auto table = item_scan_table::build(m);
  for (std::size_t n : {1, 10, 2000}) {
    for (index_t i = 0; i < m.n_items(); i += 37) {
      INFO("rank " << rank << ", n " << n << ", item " << i);
      require_same(similar_items(m, i, n, &table), similar_items(m, i, n));
    }
  }
}

TEST_CASE("scan table: similar items float cannot tell apart, zero vectors, unknown items",
          "[model][serve][top_n]") {
  // Directions apart by less than float's rounding: only the rescoring orders them.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> tiny(-1e-7, 1e-7);
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 300; ++i)
    rows.push_back({0.8 + tiny(rng), 0.3 + tiny(rng), -0.2 + tiny(rng), 0.1 + tiny(rng)});
  rows[7] = {0, 0, 0, 0};    // no direction: never listed
  rows[8] = {-0.8, -0.3, 0.2, -0.1};  // opposite: last
  auto m = model_of(4, rows, std::vector<double>(300, 0.0), {9});  // 9 unknown
  auto table = item_scan_table::build(m);
  for (std::size_t n : {1, 10, 50, 400}) {
    for (index_t i : {0, 5, 8, 299}) {
      INFO("n " << n << ", item " << i);
      auto fast = similar_items(m, i, n, &table);
      require_same(fast, similar_items(m, i, n));
      for (const auto& s : fast) {
        CHECK(s.item != i);
        CHECK(s.item != 7);
        CHECK(s.item != 9);
      }
      if (n == 400) {
        CHECK(fast.size() == 297);  // 300 less itself, the zero vector and the unknown item
        if (i != 8)
          CHECK(fast.back().item == 8);
      }
    }
  }
  CHECK(similar_items(m, 7, 5, &table).empty());  // a zero vector has no neighbours
  CHECK(similar_items(m, 9, 5, &table).empty());  // nor has an unknown item
  CHECK(similar_items(m, 0, 0, &table).empty());
}

TEST_CASE("scan_top_n_many: each list is scan_top_n's, for blocks of queries of any size",
          "[model][top_n]") {
  auto rank = GENERATE(8, 50);
  test::planted_params pp;
  pp.users = 150;  // more than two blocks of 64 queries
  pp.items = 2100;  // two chunks of 1,024 items and a part, not a multiple of 16
  pp.rank = rank;
  auto data = test::make_planted(pp);
  auto m = data.truth;
  m.rated() = rated_items::build(data.table.ratings, m.n_users());
  auto table = item_scan_table::build(m);
  auto n = GENERATE(std::size_t(0), std::size_t(1), std::size_t(10), std::size_t(1000));
  INFO("rank " << rank << ", n " << n);
  std::vector<top_n_query> queries;
  for (index_t u = 0; u < m.n_users(); ++u) {
    auto row = m.U().row(u);
    queries.push_back({std::span<const float>(row.data(), std::size_t(rank)),
                       m.mu() + m.user_bias()[u], m.rated().of(u)});
  }
  // The blocks as tasks: in order here, or last first (a runner may take them in any order).
  auto backwards = GENERATE(false, true);
  task_runner run;
  if (backwards)
    run = [](std::size_t count, const std::function<void(std::size_t)>& body) {
      for (auto t = count; t-- > 0;)
        body(t);
    };
  auto lists = scan_top_n_many(m, queries, n, table, run);
  REQUIRE(lists.size() == queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    INFO("query " << q);
    require_same(lists[q], scan_top_n(m, queries[q].x, queries[q].base, queries[q].excluded, n,
                                      {}, &table));
  }
}
