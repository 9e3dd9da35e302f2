// The implicit fold-in (model/fold_in.hpp fold_in_events) and the query service serving
// an implicit model: a new user's events solved as one user solve of implicit ALS, and
// POST /ratings then /recommend on a model whose metadata names the implicit trainer.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planted_groups.hpp"
#include "recflow/model/fold_in.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/serve/service.hpp"

using namespace recflow;

namespace {

implicit_params planted_params() {
  implicit_params p;
  p.rank = 3;  // one dimension per group
  p.iterations = 15;
  p.lambda = 0.1;
  p.alpha = 5.0;
  p.init_stddev = 0.1;
  return p;
}

const factor_model& planted_model() {
  static const factor_model m = [] {
    auto d = test::make_planted_groups();
    auto trained = train_implicit_als(d.table, planted_params());
    REQUIRE(trained);
    return std::move(*trained);
  }();
  return m;
}

/// Events of a new user on items 1010..1014 (half of group 1's items), weight 1.
std::vector<item_rating> group_one_events() {
  std::vector<item_rating> e;
  for (std::int64_t item = 1010; item < 1015; ++item)
    e.push_back({item, 1.0});
  return e;
}

}  // namespace

TEST_CASE("implicit fold-in: one user solve of implicit ALS, repeated events adding up",
          "[model][implicit][serve]") {
  const auto& m = planted_model();
  auto p = planted_params();
  p.solver = implicit_solver::cholesky;
  implicit_als_solver prepared(p);
  prepared.prepare(m.P());

  auto f = fold_in_events(m, group_one_events(), prepared);
  REQUIRE(f);
  CHECK(f->used == 5);
  CHECK(f->rated.size() == 5);
  CHECK(f->bias == 0.0);
  // The same solve by hand: the items by dense index, each weight times the recency
  // factor of an event without a time (one of the user's latest).
  std::vector<index_t> items;
  std::vector<float> weights;
  for (std::int64_t item = 1010; item < 1015; ++item)
    items.push_back(m.items().find(item));
  std::sort(items.begin(), items.end());
  weights.assign(items.size(), float(1.0 * (1.0 + p.recency_boost)));
  auto by_hand = prepared;
  std::vector<float> x(std::size_t(m.rank()), 0.0f);
  by_hand.solve(items, weights, m.P(), x);
  CHECK(f->factors == x);

  // Its top items are the rest of group 1.
  auto top = recommend_folded(m, *f, {.n = 5, .exclude_rated = true, .candidates = {},
                                      .scan = nullptr});
  REQUIRE(top.size() == 5);
  for (const auto& s : top) {
    INFO("item " << s.external_id);
    CHECK(s.external_id >= 1015);
    CHECK(s.external_id < 1020);
  }

  // Repeated events add up; events on items the model does not know are left out.
  auto split = fold_in_events(m, std::vector<item_rating>{{1010, 1.0}, {1010, 2.0}, {99999, 1.0}},
                              prepared);
  auto whole = fold_in_events(m, std::vector<item_rating>{{1010, 3.0}}, prepared);
  REQUIRE(split);
  REQUIRE(whole);
  CHECK(split->factors == whole->factors);
  CHECK(split->used == 1);
  CHECK(split->rated.size() == 1);

  // No usable event: cold. A weight that is not positive and finite: an error naming it.
  auto cold = fold_in_events(m, std::vector<item_rating>{{99999, 1.0}}, prepared);
  REQUIRE(cold);
  CHECK(cold->used == 0);
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    auto e = fold_in_events(m, std::vector<item_rating>{{1010, bad}}, prepared);
    REQUIRE_FALSE(e);
    CHECK(e.err().message.find("item 1010") != std::string::npos);
  }
}

TEST_CASE("implicit fold-in parameters come from the model's metadata", "[serve][implicit]") {
  CHECK_FALSE(serve::implicit_fold_in_params({}));
  CHECK_FALSE(serve::implicit_fold_in_params({{"trainer", "als"}, {"alpha", "5"}}));
  auto p = serve::implicit_fold_in_params({{"trainer", "implicit-als"}, {"alpha", "5"},
                                           {"lambda", "0.1"}, {"confidence", "log"},
                                           {"recency_boost", "junk"}, {"missing_exponent", "0.5"}});
  REQUIRE(p);
  CHECK(p->alpha == 5.0);
  CHECK(p->lambda == 0.1);
  CHECK(p->confidence == confidence_form::log);
  CHECK(p->missing_exponent == 0.5);
  CHECK(p->recency_boost == implicit_params{}.recency_boost);  // not a number: the default
  CHECK(p->solver == implicit_solver::cholesky);
}

TEST_CASE("serving an implicit model: a new user's posted events are folded in as events",
          "[serve][implicit]") {
  const auto& m = planted_model();
  serve::query_service svc({}, {{"trainer", "implicit-als"}, {"alpha", "5"}, {"lambda", "0.1"},
                                {"recency_boost", "10"}});
  svc.publish(std::make_shared<const factor_model>(m), 0);
  auto posts = nlohmann::json::array();
  for (std::int64_t item = 1010; item < 1015; ++item)
    posts.push_back({{"user", 777}, {"item", item}, {"rating", 1}});
  const auto body = posts.dump();
  auto posted = svc.handle("POST", "/ratings", body);
  REQUIRE(posted.status == 200);  // no sink: folded in only, not trained on
  auto a = svc.handle("GET", "/recommend?user=777&n=5", "");
  REQUIRE(a.status == 200);
  auto j = nlohmann::json::parse(a.body);
  CHECK(j["source"] == "fold_in");
  REQUIRE(j["items"].size() == 5);
  for (const auto& s : j["items"]) {
    INFO(s.dump());
    CHECK(s["item"].get<std::int64_t>() >= 1015);
    CHECK(s["item"].get<std::int64_t>() < 1020);
  }
  // The service's fold-in is fold_in_events with the metadata's parameters.
  auto p = planted_params();
  p.solver = implicit_solver::cholesky;
  p.recency_boost = 10.0;
  implicit_als_solver prepared(p);
  prepared.prepare(m.P());
  auto f = fold_in_events(m, group_one_events(), prepared);
  REQUIRE(f);
  auto top = recommend_folded(m, *f, {.n = 5, .exclude_rated = true, .candidates = {},
                                      .scan = nullptr});
  for (std::size_t r = 0; r < top.size(); ++r)
    CHECK(j["items"][r]["item"].get<std::int64_t>() == top[r].external_id);

  // An event's weight is a count or a strength, not a rating on the model's 0..1 scale:
  // any positive weight is taken, and one that is not positive is refused.
  CHECK(svc.handle("POST", "/ratings", R"([{"user": 778, "item": 1010, "rating": 3}])").status
        == 200);
  auto bad = svc.handle("POST", "/ratings", R"([{"user": 779, "item": 1010, "rating": -1}])");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("must be positive") != std::string::npos);
}
