// Ranking evaluation for implicit feedback: leave-latest-out and HR@k / NDCG@k against
// sampled negatives (the NCF protocol), checked by hand on tiny cases.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "recflow/model/ranking.hpp"
#include "recflow/model/split.hpp"

using namespace recflow;

namespace {

/// Rank 1, one user (external id 7, factor 1) and items 100..104 scoring 5, 4, 3, 2, 1;
/// the user's training event is on item 100; item counts (popularity) 1, 2, 9, 3, 4.
factor_model tiny_model() {
  factor_model m(1, rating_scale{0.0, 1.0});
  auto u = m.add_user(7, 1, 0.0);
  m.U().row(u)[0] = 1.0f;
  m.user_count()[u] = 1;
  const std::uint32_t counts[] = {1, 2, 9, 3, 4};
  for (int k = 0; k < 5; ++k) {
    auto i = m.add_item(100 + k, 1, 0.0);
    m.P().row(i)[0] = static_cast<float>(5 - k);
    m.item_count()[i] = counts[k];
  }
  std::vector<rating> seen{{u, 0, 1.0f, 0}};
  m.rated() = rated_items::build(seen, 1);
  return m;
}

}  // namespace

TEST_CASE("leave latest out: the latest event of each user with two or more", "[model][implicit]") {
  // user 0: timestamps 10, 30, 20 -> the 30 is held out; user 1: one event, kept;
  // user 2: no timestamps -> one of its three, seeded.
  std::vector<rating> rs{{0, 1, 1, 10}, {0, 2, 1, 30}, {0, 3, 1, 20}, {1, 1, 1, 5},
                         {2, 1, 1, 0},  {2, 2, 1, 0},  {2, 3, 1, 0}};
  auto s = leave_latest_out(rs, 42);
  REQUIRE(s.test.size() == 2);
  CHECK(s.train.size() == 5);
  CHECK(s.test[0].user == 0);
  CHECK(s.test[0].item == 2);
  CHECK(s.test[1].user == 2);
  auto again = leave_latest_out(rs, 42);
  CHECK(again.test[1].item == s.test[1].item);
  // Over seeds, every one of user 2's events gets held out some time.
  std::vector<int> seen(4, 0);
  for (std::uint64_t seed = 0; seed < 40; ++seed)
    ++seen[leave_latest_out(rs, seed).test[1].item];
  CHECK(seen[1] > 0);
  CHECK(seen[2] > 0);
  CHECK(seen[3] > 0);
}

TEST_CASE("sampled ranking: a tiny case by hand, for the model and for popularity",
          "[model][implicit]") {
  auto m = tiny_model();
  id_map users, items;
  users.insert(7);
  for (int k = 0; k < 5; ++k)
    items.insert(100 + k);
  // Held out: item 102 (score 3). Eligible negatives (not 100: seen; not 102 itself) are
  // 101, 103, 104; with 100 asked for, all three. Model: only 101 (4) scores >= 3: rank 1.
  std::vector<rating> held{{0, 2, 1.0f, 0}};
  auto r = evaluate_sampled_ranking(m, held, users, items);
  CHECK(r.held_out == 1);
  CHECK(r.hit_rate == 1.0);
  CHECK(r.ndcg == Approx(1.0 / std::log2(3.0)));
  // The same as ranking_of's recall and NDCG with one relevant item at position 2.
  std::vector<std::int64_t> ranked{101, 102, 103, 104}, relevant{102};
  auto full = ranking_of(ranked, relevant, 10);
  CHECK(full.recall == r.hit_rate);
  CHECK(full.ndcg == Approx(r.ndcg));
  // k = 1: rank 1 is not below 1.
  auto at1 = evaluate_sampled_ranking(m, held, users, items, {.k = 1, .negatives = 100, .seed = 42, .ranker = sampled_ranker::model});
  CHECK(at1.hit_rate == 0.0);
  CHECK(at1.ndcg == 0.0);
  // Popularity: item 102 has 9 events, more than any negative: rank 0, NDCG 1.
  auto pop = evaluate_sampled_ranking(m, held, users, items, {.k = 10, .negatives = 100, .seed = 42, .ranker = sampled_ranker::popularity});
  CHECK(pop.hit_rate == 1.0);
  CHECK(pop.ndcg == 1.0);
  // Held out item 104 (score 1, count 4): its negatives are 101, 102, 103, which all score
  // higher: model rank 3; popularity rank 1 (only 102's 9 events are >= 4).
  std::vector<rating> last{{0, 4, 1.0f, 0}};
  auto m4 = evaluate_sampled_ranking(m, last, users, items);
  CHECK(m4.ndcg == Approx(1.0 / std::log2(5.0)));
  auto p4 = evaluate_sampled_ranking(m, last, users, items, {.k = 10, .negatives = 100, .seed = 42, .ranker = sampled_ranker::popularity});
  CHECK(p4.ndcg == Approx(1.0 / std::log2(3.0)));
  // Ties count against the held-out item: give 103 the score of 102, rank 1 becomes 2.
  m.P().row(3)[0] = 3.0f;
  CHECK(evaluate_sampled_ranking(m, held, users, items).ndcg == Approx(1.0 / std::log2(4.0)));
}

TEST_CASE("sampled ranking: negatives are seeded, distinct, unseen, and unknown items miss",
          "[model][implicit]") {
  // One user, 400 items scoring their own index; the user has seen item 399.
  factor_model m(1, rating_scale{0.0, 1.0});
  auto u = m.add_user(1, 1, 0.0);
  m.U().row(u)[0] = 1.0f;
  m.user_count()[u] = 1;
  id_map users, items;
  users.insert(1);
  for (int k = 0; k < 400; ++k) {
    auto i = m.add_item(k, 1, 0.0);
    items.insert(k);
    m.P().row(i)[0] = static_cast<float>(k);
    m.item_count()[i] = 1;
  }
  std::vector<rating> seen{{u, 399, 1.0f, 0}};
  m.rated() = rated_items::build(seen, 1);
  // Held out: item 300 of 400. Among 100 of the 398 eligible items, about a quarter score
  // higher: a miss at k = 10, the same for the same seed.
  std::vector<rating> held{{0, 300, 1.0f, 0}};
  auto a = evaluate_sampled_ranking(m, held, users, items);
  auto b = evaluate_sampled_ranking(m, held, users, items);
  CHECK(a.hit_rate == 0.0);
  CHECK(a.ndcg == b.ndcg);
  // Held out: item 395: only 396, 397, 398 can score higher (399 is seen): always a hit.
  std::vector<rating> high{{0, 395, 1.0f, 0}};
  for (std::uint64_t seed : {1u, 2u, 3u})
    CHECK(evaluate_sampled_ranking(m, high, users, items, {.k = 10, .negatives = 100, .seed = seed, .ranker = sampled_ranker::model}).hit_rate == 1.0);
  // An item the model never trained on is a miss, and counted.
  items.insert(9999);
  std::vector<rating> unknown{{0, 400, 1.0f, 0}};
  auto un = evaluate_sampled_ranking(m, unknown, users, items);
  CHECK(un.unknown == 1);
  CHECK(un.hit_rate == 0.0);
  CHECK_FALSE(validate(sampled_ranking_options{.k = 0, .negatives = 100, .seed = 42, .ranker = sampled_ranker::model}));
  CHECK_FALSE(validate(sampled_ranking_options{.k = 10, .negatives = 0, .seed = 42, .ranker = sampled_ranker::model}));
}

TEST_CASE("time split: the earliest events train, the latest test, ties in input order",
          "[model][implicit]") {
  std::vector<rating> rs;
  for (int j = 0; j < 10; ++j)  // timestamps 9, 8, ..., 0 with a tie at 5
    rs.push_back({index_t(j), 0, 1.0f, j == 5 ? 5 : 9 - j});
  auto s = time_split(rs, 0.7);
  REQUIRE(s.train.size() == 7);
  REQUIRE(s.test.size() == 3);
  for (std::size_t j = 1; j < s.train.size(); ++j)
    CHECK(s.train[j - 1].timestamp <= s.train[j].timestamp);
  CHECK(s.train.back().timestamp <= s.test.front().timestamp);
  CHECK(s.test.back().timestamp == 9);
  // The two events at 5 (users 4 and 5) keep their input order across the cut.
  std::vector<index_t> order;
  for (const auto& r : s.train)
    order.push_back(r.user);
  for (const auto& r : s.test)
    order.push_back(r.user);
  CHECK(std::find(order.begin(), order.end(), 4) < std::find(order.begin(), order.end(), 5));
  CHECK(time_split(rs, 0.0).train.empty());
  CHECK(time_split(rs, 1.0).test.empty());
}

TEST_CASE("full ranking: the popularity model ranks by training events, the same items excluded",
          "[model][implicit]") {
  const auto m = tiny_model();
  const auto pop = popularity_model(m);
  CHECK(pop.rank() == 1);
  CHECK(pop.users() == m.users());
  CHECK(pop.items() == m.items());
  // Items by count 9, 4, 3, 2 (item 100, count 1, is the user's own): 102, 104, 103, 101.
  rating_table test;
  test.users.insert(7);
  for (int k = 0; k < 5; ++k)
    test.items.insert(100 + k);
  test.ratings = {{0, 4, 1.0f, 0}};  // item 104: second by popularity, fourth by the model
  const ranking_options two{.k = 2, .relevance = 0.0};
  auto by_pop = evaluate_ranking(pop, test, two);
  CHECK(by_pop.users == 1);
  CHECK(by_pop.recall == 1.0);
  CHECK(by_pop.precision == 0.5);
  auto by_model = evaluate_ranking(m, test, two);
  CHECK(by_model.recall == 0.0);  // the model's top two are 101 and 102
}
