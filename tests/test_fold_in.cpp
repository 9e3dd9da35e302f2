// Model-layer queries for serving: similar items, cold start, fold-in (unit tests), and
// the fold-in quality test of the serving issue on ml-latest-small.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/model/cold_start.hpp"
#include "recflow/model/fold_in.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/similar.hpp"
#include "recflow/model/split.hpp"
#include "recflow/model/streaming.hpp"
#include "recflow/model/top_n.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// A rank-2 model over items 10, 11, 12, 13 (13 never trained: count 0) and user 1.
factor_model small_model() {
  factor_model::parts p;
  p.rank = 2;
  p.mu = 3.0;
  p.mu_count = 10;
  p.users.insert(1);
  for (std::int64_t i : {10, 11, 12, 13})
    p.items.insert(i);
  p.user_bias = {0.1};
  p.item_bias = {0.5, -0.2, 0.3, 0.9};
  p.U = {1.0, 0.0};
  p.P = {1.0, 0.0,   2.0, 0.1,   0.0, 1.0,   1.0, 0.0};
  p.user_count = {3};
  p.item_count = {100, 50, 2, 0};
  auto m = factor_model::from_parts(std::move(p));
  REQUIRE(m);
  return std::move(*m);
}

}  // namespace

TEST_CASE("similar items: cosine of item factors, best first, the item itself left out", "[model][serve]") {
  auto m = small_model();
  auto s = similar_items(m, 0, 10);
  REQUIRE(s.size() == 2);  // 11 and 12; 13 is unknown
  CHECK(s[0].external_id == 11);
  CHECK(s[0].score == Approx(2.0 / std::sqrt(4.01)));
  CHECK(s[1].external_id == 12);
  CHECK(s[1].score == Approx(0.0).margin(1e-12));
  CHECK(similar_items(m, 0, 1).size() == 1);
  CHECK(similar_items(m, 3, 5).empty());   // unknown item
  CHECK(similar_items(m, 99, 5).empty());  // out of range
}

TEST_CASE("cold start: bias shrunk by rating count plus popularity ranks items", "[model][serve]") {
  auto m = small_model();
  // Scores: 10: 3 + 0.5*100/125 + 0.1 log 101; 11: 3 - 0.2*50/75 + 0.1 log 51;
  // 12: 3 + 0.3*2/27 + 0.1 log 3. Item 12's bias rests on two ratings.
  auto r = cold_start_items(m, {.n = 3});
  REQUIRE(r.size() == 3);
  CHECK(r[0].external_id == 10);
  CHECK(r[1].external_id == 11);
  CHECK(r[2].external_id == 12);
  CHECK(r[0].score == Approx(3.0 + 0.4 + 0.1 * std::log(101.0)));
  std::vector<index_t> excluded{0};
  auto r2 = cold_start_items(m, {.n = 3}, excluded);
  REQUIRE(r2.size() == 2);
  CHECK(r2[0].external_id == 11);
  std::vector<index_t> only{2, 3, 7};
  auto r3 = cold_start_items(m, {.n = 3, .candidates = only});
  REQUIRE(r3.size() == 1);
  CHECK(r3[0].external_id == 12);
}

TEST_CASE("fold-in: recovers a planted user from their ratings", "[model][serve]") {
  test::planted_params pp;
  pp.users = 1;
  pp.items = 300;
  pp.rank = 3;
  pp.density = 0.5;
  pp.noise = 0.0;
  pp.clamp = false;
  auto data = test::make_planted(pp);
  std::vector<item_rating> rs;
  for (std::size_t k = 0; k < data.table.ratings.size(); ++k) {
    const auto& r = data.table.ratings[k];
    rs.push_back({data.table.items.external(r.item), data.clean[k]});
  }
  auto f = fold_in(data.truth, rs, {.lambda = 1e-6, .lambda_bias = 1e-6});
  REQUIRE(f);
  CHECK(f->used == rs.size());
  CHECK(f->bias == Approx(data.truth.user_bias()[0]).margin(1e-4));
  for (int d = 0; d < 3; ++d)
    CHECK(f->factors[std::size_t(d)] == Approx(data.truth.U().row(0)[d]).margin(1e-4));
  // Predictions then match the truth's; rated items are excluded from its top-N.
  auto item = data.table.items.external(data.table.ratings[0].item);
  CHECK(predict_folded(data.truth, *f, item) == Approx(data.truth.predict(0, data.truth.items().find(item))).margin(1e-4));
  auto top = recommend_folded(data.truth, *f, {.n = 1000});
  CHECK(top.size() == data.truth.n_items() - f->rated.size());
  for (const auto& s : top)
    CHECK_FALSE(std::binary_search(f->rated.begin(), f->rated.end(), s.item));
}

TEST_CASE("fold-in: unknown items, no ratings, and bad values", "[model][serve]") {
  auto m = small_model();
  std::vector<item_rating> none{{999, 4.0}};
  auto f = fold_in(m, none);
  REQUIRE(f);
  CHECK(f->used == 0);
  CHECK(predict_folded(m, *f, 10) == Approx(3.5));  // cold: mu + b_i
  CHECK(recommend_folded(m, *f, {.n = 1})[0].external_id == 10);
  std::vector<item_rating> nan{{10, std::nan("")}};
  CHECK_FALSE(fold_in(m, nan));
  std::vector<item_rating> one{{10, 5.0}, {13, 1.0}};  // 13 is in the map but untrained
  auto g = fold_in(m, one);
  REQUIRE(g);
  CHECK(g->used == 1);
  CHECK(g->rated.size() == 2);
  CHECK(predict_folded(m, *g, 10) > 3.5);
  CHECK_FALSE(validate(fold_in_params{.lambda = -1}));
}

TEST_CASE("scan_top_n: the same lists as recommend() for known users", "[model][serve]") {
  test::planted_params pp;
  pp.users = 20;
  pp.items = 500;
  pp.rank = 8;
  auto data = test::make_planted(pp);
  auto m = data.truth;
  m.rated() = rated_items::build(data.table.ratings, m.n_users());
  auto n = GENERATE(std::size_t(1), std::size_t(10), std::size_t(1000));
  for (index_t u = 0; u < m.n_users(); ++u) {
    // What recommend() promises, by brute force: every known, unrated item by raw_predict.
    std::vector<scored_item> want;
    auto rated = m.rated().of(u);
    for (index_t i = 0; i < m.n_items(); ++i)
      if (m.item_known(i) && !std::binary_search(rated.begin(), rated.end(), i))
        want.push_back({i, m.items().external(i), m.raw_predict(u, i)});
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return a.score > b.score || (a.score == b.score && a.item < b.item);
    });
    want.resize(std::min(n, want.size()));
    CHECK(recommend(m, u, {.n = n}).size() == want.size());
    auto row = m.U().row(u);
    auto got = scan_top_n(m, std::span<const float>(row.data(), 8), m.mu() + m.user_bias()[u],
                          m.rated().of(u), n);
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      CHECK(got[k].external_id == want[k].external_id);
      CHECK(got[k].score == Approx(want[k].score).epsilon(1e-12));
    }
  }
}

namespace {

struct quality {
  error_metrics err;
  ranking_metrics rank;
};

}  // namespace

TEST_CASE("fold-in quality: 50 hidden users of ml-latest-small, folded in, beat cold start", "[model][serve][accuracy]") {
  auto table = read_ratings(test::data_dir() + "/ml-latest-small/ratings.csv");
  REQUIRE(table);
  // 50 hidden users: every 6th user id with at least 20 ratings (seeded by construction).
  std::map<index_t, std::vector<rating>> by_user;
  for (const auto& r : table->ratings)
    by_user[r.user].push_back(r);
  std::set<index_t> hidden;
  std::size_t seen = 0;
  for (const auto& [u, rs] : by_user)
    if (rs.size() >= 20 && seen++ % 6 == 0 && hidden.size() < 50)
      hidden.insert(u);
  REQUIRE(hidden.size() == 50);
  // Each hidden user's ratings in time order: the first half is what they post (fold-in),
  // the second half is held out.
  std::vector<rating> train, posted, held_out;
  for (const auto& [u, rs] : by_user) {
    if (!hidden.count(u)) {
      train.insert(train.end(), rs.begin(), rs.end());
      continue;
    }
    auto sorted = rs;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const rating& a, const rating& b) { return a.timestamp < b.timestamp; });
    auto half = sorted.size() / 2;
    posted.insert(posted.end(), sorted.begin(), sorted.begin() + std::ptrdiff_t(half));
    held_out.insert(held_out.end(), sorted.begin() + std::ptrdiff_t(half), sorted.end());
  }
  // The streaming model without the hidden users, and one that also streamed their
  // posted halves ("seen in training"), at the stream defaults.
  auto stream = [&](std::vector<rating> rs) {
    order_ratings(rs, stream_order::random, 42);
    auto t = streaming_trainer::make(stream_params{}, table->scale);
    REQUIRE(t);
    for (std::size_t b = 0; b < rs.size(); b += 1000) {
      auto n = std::min<std::size_t>(1000, rs.size() - b);
      REQUIRE(t->apply(std::span<const rating>(rs).subspan(b, n), table->users, table->items));
    }
    return std::move(t->model());
  };
  auto base = stream(train);
  auto with_posted = train;
  with_posted.insert(with_posted.end(), posted.begin(), posted.end());
  auto trained = stream(with_posted);
  trained.rated() = rated_in_model(trained, posted, table->users, table->items);

  ranking_options ro;
  auto score = [&](auto&& predict, auto&& top) {
    std::vector<double> pred, truth;
    for (const auto& r : held_out) {
      pred.push_back(predict(r));
      truth.push_back(r.value);
    }
    quality q;
    q.err = error_of(pred, truth);
    for (auto u : hidden) {
      std::vector<std::int64_t> relevant;
      for (const auto& r : held_out)
        if (r.user == u && r.value >= ro.relevance)
          relevant.push_back(table->items.external(r.item));
      std::sort(relevant.begin(), relevant.end());
      if (relevant.empty())
        continue;
      std::vector<std::int64_t> ranked;
      for (const auto& s : top(u))
        ranked.push_back(s.external_id);
      auto one = ranking_of(ranked, relevant, ro.k);
      q.rank.precision += one.precision;
      q.rank.ndcg += one.ndcg;
      q.rank.users += 1;
    }
    q.rank.precision /= double(q.rank.users);
    q.rank.ndcg /= double(q.rank.users);
    return q;
  };
  std::map<index_t, folded_user> folded;
  for (auto u : hidden) {
    std::vector<item_rating> mine;
    for (const auto& r : posted)
      if (r.user == u)
        mine.push_back({table->items.external(r.item), r.value});
    auto f = fold_in(base, mine);
    REQUIRE(f);
    folded[u] = std::move(*f);
  }
  auto ext_item = [&](const rating& r) { return table->items.external(r.item); };
  auto q_fold = score([&](const rating& r) { return predict_folded(base, folded[r.user], ext_item(r)); },
                      [&](index_t u) { return recommend_folded(base, folded[u], {.n = ro.k}); });
  folded_user cold;  // no usable ratings: the cold-start fallback, same exclusions
  auto q_cold = score([&](const rating& r) { return predict_folded(base, cold, ext_item(r)); },
                      [&](index_t u) {
                        auto c = cold;
                        c.rated = folded[u].rated;
                        return recommend_folded(base, c, {.n = ro.k});
                      });
  auto q_trained = score(
    [&](const rating& r) {
      return trained.predict_external(table->users.external(r.user), ext_item(r));
    },
    [&](index_t u) {
      return recommend(trained, trained.users().find(table->users.external(u)), {.n = ro.k});
    });
  auto line = [](const char* what, const quality& q) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-26s rmse %.4f  mae %.4f  precision@10 %.4f  ndcg@10 %.4f\n",
                  what, q.err.rmse, q.err.mae, q.rank.precision, q.rank.ndcg);
    return std::string(buf);
  };
  std::cout << "fold-in quality, ml-latest-small, 50 hidden users, " << posted.size()
            << " posted / " << held_out.size() << " held-out ratings (" << q_fold.rank.users
            << " users with a relevant item):\n"
            << line("cold start (mu + b_i)", q_cold) << line("fold-in", q_fold)
            << line("streamed with the rest", q_trained);
  CHECK(q_fold.err.rmse < q_cold.err.rmse - 0.02);
  CHECK(q_fold.err.rmse < q_trained.err.rmse + 0.02);
}
