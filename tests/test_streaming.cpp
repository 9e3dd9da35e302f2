#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "data/ingest.hpp"
#include "model/metrics.hpp"
#include "model/split.hpp"
#include "model/stream_eval.hpp"
#include "model/streaming.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// An id map holding external ids first, first + 1, ... (n of them).
id_map ids(std::int64_t first, std::uint32_t n) {
  id_map m;
  for (std::uint32_t k = 0; k < n; ++k)
    m.insert(first + k);
  return m;
}

std::vector<double> row_of(const factor_table& t, index_t r) {
  auto row = t.row(r);
  return {row.data(), row.data() + row.size()};
}

std::vector<double> initial(side s, std::int64_t id, const stream_params& p) {
  std::vector<double> v(std::size_t(p.rank));
  initial_factors(p.seed, s, id, p.init_stddev, v);
  return v;
}

/// A planted data set split 80/20 (seeded), as two tables in one id space.
struct planted_split {
  rating_table train, test;
  double noise;
};

planted_split planted(std::uint64_t seed) {
  test::planted_params pp;
  pp.seed = seed;
  auto d = test::make_planted(pp);
  auto s = random_split(d.table.ratings, 0.8, seed);
  return {d.table.with_ratings(s.train), d.table.with_ratings(s.test), pp.noise};
}

}  // namespace

TEST_CASE("streaming params: validate names the bad field", "[stream]") {
  auto [edit, message] = GENERATE(table<std::function<void(stream_params&)>, std::string>({
    {[](stream_params& p) { p.rank = 0; }, "rank must be positive, got 0"},
    {[](stream_params& p) { p.passes = -1; }, "passes must be positive, got -1"},
    {[](stream_params& p) { p.gamma = -0.5; }, "gamma must be finite and non-negative, got -0.5"},
    {[](stream_params& p) { p.gamma_bias = std::nan(""); }, "gamma_bias must be finite"},
    {[](stream_params& p) { p.lambda = -1; }, "lambda must be finite and non-negative, got -1"},
    {[](stream_params& p) { p.lambda_bias = -2; }, "lambda_bias must be finite"},
    {[](stream_params& p) { p.init_stddev = -0.1; }, "init_stddev must be finite"},
  }));
  stream_params p;
  REQUIRE(validate(p));
  edit(p);
  auto r = validate(p);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  CHECK_THAT(r.err().message, Catch::StartsWith(message));
  CHECK_FALSE(streaming_trainer::make(p, rating_scale{}));
  CHECK_THROWS_AS(streaming_trainer(p, rating_scale{}), std::invalid_argument);
}

TEST_CASE("streaming: a seed model of another rank is refused", "[stream]") {
  stream_params p;
  p.rank = 4;
  auto t = streaming_trainer::make(p, factor_model(3, {}));
  REQUIRE_FALSE(t);
  CHECK(t.err().message == "seed model has rank 3, params say 4");
  CHECK_THROWS_AS(streaming_trainer(p, factor_model(3, {})), std::invalid_argument);
}

TEST_CASE("streaming: a batch with an index outside the id maps fails and changes nothing",
          "[stream]") {
  streaming_trainer t(stream_params{}, rating_scale{});
  auto users = ids(1, 2), items = ids(1, 2);
  std::vector<rating> bad{{0, 0, 4.0f, 0}, {2, 1, 3.0f, 0}};
  auto r = t.apply(bad, users, items);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("user index 2"));
  CHECK(t.model() == factor_model(stream_params{}.rank, rating_scale{}));
  CHECK(t.batches() == 0);
}

TEST_CASE("streaming: the running mean is the exact mean of everything seen", "[stream]") {
  auto d = planted(3);
  streaming_trainer t(stream_params{}, d.train.scale);
  std::span<const rating> all(d.train.ratings);
  for (std::size_t at = 0; at < all.size(); at += 777) {
    auto batch = all.subspan(at, std::min<std::size_t>(777, all.size() - at));
    REQUIRE(t.apply(batch, d.train.users, d.train.items));
    auto seen = all.first(at + batch.size());
    CHECK(t.model().mu() == Approx(mean_rating(seen)).epsilon(1e-12));
    CHECK(t.model().mu_count() == seen.size());
  }
}

TEST_CASE("streaming: a new id starts from its seeded initial factors, once", "[stream]") {
  stream_params p;
  p.gamma = 0.0;  // no movement: what is left is the initial state
  p.gamma_bias = 0.0;
  streaming_trainer t(p, rating_scale{});
  auto users = ids(100, 3), items = ids(500, 3);
  std::vector<rating> batch{{1, 2, 4.0f, 0}, {1, 0, 2.0f, 0}, {1, 2, 5.0f, 0}};
  REQUIRE(t.apply(batch, users, items));
  const auto& m = t.model();
  REQUIRE(m.n_users() == 1);  // one vector per id, not one per rating
  REQUIRE(m.n_items() == 2);
  CHECK(m.users().external(0) == 101);
  CHECK(m.user_count()[0] == 3);
  CHECK(m.item_count()[m.items().find(502)] == 2);
  CHECK(row_of(m.U(), 0) == initial(side::user, 101, p));
  CHECK(row_of(m.P(), m.items().find(502)) == initial(side::item, 502, p));
  CHECK(m.user_bias()[0] == 0.0);
}

TEST_CASE("streaming: users and items absent from a batch keep their parameters exactly",
          "[stream]") {
  auto mode = GENERATE(update_mode::batch_gradient, update_mode::sgd);
  stream_params p;
  p.mode = mode;
  streaming_trainer t(p, rating_scale{});
  auto users = ids(1, 3), items = ids(1, 3);
  std::vector<rating> first{{0, 0, 4.0f, 0}, {1, 1, 2.0f, 0}, {2, 2, 5.0f, 0}};
  REQUIRE(t.apply(first, users, items));
  auto before = t.model();
  std::vector<rating> second{{0, 1, 3.0f, 0}, {1, 0, 1.0f, 0}};  // user 3, item 3 absent
  REQUIRE(t.apply(second, users, items));
  const auto& m = t.model();
  auto u3 = m.users().find(3), i3 = m.items().find(3);
  CHECK(row_of(m.U(), u3) == row_of(before.U(), u3));
  CHECK(row_of(m.P(), i3) == row_of(before.P(), i3));
  CHECK(m.user_bias()[u3] == before.user_bias()[u3]);
  CHECK(m.item_bias()[i3] == before.item_bias()[i3]);
  CHECK(m.user_count()[u3] == 1);
  CHECK(row_of(m.U(), 0) != row_of(before.U(), 0));
}

TEST_CASE("streaming: all errors of a batch-gradient pass come from one snapshot",
          "[stream]") {
  // One user, one item, known parameters; the batch rates the pair once or twice.
  stream_params p;
  p.rank = 3;
  p.passes = 1;
  factor_model seed(p.rank, rating_scale{});
  seed.set_mu(4.0, 0);  // count 0: the batch alone sets the running mean, exactly 4
  auto u = seed.add_user(7, 1, 0.5), i = seed.add_item(9, 1, 0.5);
  seed.user_bias()[u] = 0.25;
  seed.item_bias()[i] = -0.5;
  seed.user_count()[u] = seed.item_count()[i] = 1;
  auto users = ids(7, 1), items = ids(9, 1);
  double mu = 4.0;  // the running mean stays 4: every rating is 4
  double e = 4.0 - seed.raw_predict(u, i);
  auto stepped = [&](int n) {
    auto t = streaming_trainer::make(p, seed);
    REQUIRE(t);
    std::vector<rating> batch(std::size_t(n), rating{0, 0, 4.0f, 0});
    REQUIRE(t->apply(batch, users, items));
    REQUIRE(t->model().mu() == mu);
    return t->model();
  };
  auto one = stepped(1), two = stepped(2);
  CHECK(one.user_bias()[u] == Approx(0.25 + p.gamma_bias * (e - p.lambda_bias * 0.25)));
  for (int n : {1, 2}) {
    const auto& m = n == 1 ? one : two;
    for (int k = 0; k < p.rank; ++k) {
      double uk = seed.U().row(u)[k], pk = seed.P().row(i)[k];
      CHECK(m.U().row(u)[k] == Approx(uk + n * p.gamma * (e * pk - p.lambda * uk)).epsilon(1e-14));
      CHECK(m.P().row(i)[k] == Approx(pk + n * p.gamma * (e * uk - p.lambda * pk)).epsilon(1e-14));
    }
    CHECK(m.user_bias()[u]
          == Approx(0.25 + n * p.gamma_bias * (e - p.lambda_bias * 0.25)).epsilon(1e-14));
    CHECK(m.item_bias()[i]
          == Approx(-0.5 + n * p.gamma_bias * (e + p.lambda_bias * 0.5)).epsilon(1e-14));
  }
  // Sequential SGD sees a smaller error the second time, so it moves less than double.
  p.mode = update_mode::sgd;
  auto sgd_two = stepped(2);
  CHECK(std::abs(sgd_two.user_bias()[u] - 0.25) < std::abs(two.user_bias()[u] - 0.25) - 1e-6);
}

TEST_CASE("streaming: one SGD step follows the B-SGD formulas", "[stream]") {
  stream_params p;
  p.mode = update_mode::sgd;
  p.passes = 1;
  streaming_trainer t(p, rating_scale{});
  auto users = ids(1, 1), items = ids(2, 1);
  std::vector<rating> batch{{0, 0, 5.0f, 0}};
  REQUIRE(t.apply(batch, users, items));
  auto u0 = initial(side::user, 1, p), p0 = initial(side::item, 2, p);
  double dot = 0.0;
  for (int k = 0; k < p.rank; ++k)
    dot += u0[k] * p0[k];
  double e = 5.0 - (5.0 + dot);  // mu is 5 after folding the batch in
  const auto& m = t.model();
  CHECK(m.user_bias()[0] == Approx(p.gamma_bias * e).epsilon(1e-12));
  for (int k = 0; k < p.rank; ++k) {
    CHECK(m.U().row(0)[k] == Approx(u0[k] + p.gamma * (e * p0[k] - p.lambda * u0[k])));
    CHECK(m.P().row(0)[k] == Approx(p0[k] + p.gamma * (e * u0[k] - p.lambda * p0[k])));
  }
}

TEST_CASE("streaming: planted factors are learnt down toward the noise level", "[stream]") {
  auto mode = GENERATE(update_mode::batch_gradient, update_mode::sgd);
  auto d = planted(11);
  stream_params p;
  p.mode = mode;
  streaming_trainer t(p, d.train.scale);
  stream_eval_options o;
  o.batch_size = 500;
  std::vector<stream_report> all;
  for (int epoch = 0; epoch < 3; ++epoch) {
    o.order_seed = 100 + epoch;
    auto r = stream_evaluate(t, d.train, d.test, o);
    REQUIRE(r);
    all.insert(all.end(), r->begin(), r->end());
  }
  INFO("first " << all.front().rmse << " after one epoch " << all[all.size() / 3 - 1].rmse
                << " last " << all.back().rmse << " noise " << d.noise);
  CHECK(all.back().rmse < 0.5 * all.front().rmse);
  CHECK(all.back().rmse < all[all.size() / 3 - 1].rmse);
  CHECK(all.back().rmse < 2.5 * d.noise);
}

TEST_CASE("streaming: a trained seed model is continued, not restarted", "[stream]") {
  auto d = planted(5);
  test::planted_params pp;
  pp.seed = 5;
  auto truth = test::make_planted(pp).truth;
  truth.rated() = rated_items::build(d.train.ratings, truth.n_users());
  stream_params p;
  p.rank = pp.rank;
  auto seeded = streaming_trainer::make(p, truth);
  REQUIRE(seeded);
  streaming_trainer cold(p, d.train.scale);
  stream_eval_options o;
  o.batch_size = 500;
  auto warm_r = stream_evaluate(*seeded, d.train, d.test, o);
  auto cold_r = stream_evaluate(cold, d.train, d.test, o);
  REQUIRE(warm_r);
  REQUIRE(cold_r);
  INFO("warm first " << warm_r->front().rmse << " cold first " << cold_r->front().rmse);
  CHECK(warm_r->front().rmse < 2.0 * d.noise);
  CHECK(warm_r->back().rmse < 2.0 * d.noise);
  CHECK(cold_r->front().rmse > 3.0 * warm_r->front().rmse);
  // The seed's parameters were the starting point: its ids kept their indices.
  CHECK(seeded->model().users() == truth.users());
  CHECK(seeded->model().rated().offsets.size() == std::size_t(truth.n_users()) + 1);
}

TEST_CASE("streaming: same inputs give bit-identical models, whatever the id space",
          "[stream]") {
  auto mode = GENERATE(update_mode::batch_gradient, update_mode::sgd);
  auto d = planted(2);
  stream_params p;
  p.mode = mode;
  // The same ratings re-indexed in a second id space (ids inserted in reverse order).
  rating_table other;
  for (auto k = d.train.users.size(); k-- > 0;)
    other.users.insert(d.train.users.external(k));
  for (auto k = d.train.items.size(); k-- > 0;)
    other.items.insert(d.train.items.external(k));
  for (auto r : d.train.ratings) {
    r.user = other.users.find(d.train.users.external(r.user));
    r.item = other.items.find(d.train.items.external(r.item));
    other.ratings.push_back(r);
  }
  streaming_trainer a(p, d.train.scale), b(p, d.train.scale);
  std::span<const rating> ra(d.train.ratings), rb(other.ratings);
  for (std::size_t at = 0, n = 0; at < ra.size(); at += 1000, ++n) {
    auto len = std::min<std::size_t>(1000, ra.size() - at);
    REQUIRE(a.apply(ra.subspan(at, len), d.train.users, d.train.items));
    // b switches id spaces every batch; its translation cache must follow.
    if (n % 2 == 0)
      REQUIRE(b.apply(rb.subspan(at, len), other.users, other.items));
    else
      REQUIRE(b.apply(ra.subspan(at, len), d.train.users, d.train.items));
  }
  CHECK(a.model() == b.model());
  CHECK(a.batches() == b.batches());
}

TEST_CASE("stream eval: batches are reported in order and options are checked", "[stream]") {
  auto d = planted(4);
  streaming_trainer t(stream_params{}, d.train.scale);
  stream_eval_options o;
  o.batch_size = 0;
  auto bad = stream_evaluate(t, d.train, d.test, o);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "batch size must be positive, got 0");
  o.batch_size = 1000;
  o.max_batches = 5;
  std::vector<stream_report> seen;
  auto r = stream_evaluate(t, d.train, d.test, o,
                           [&](const stream_report& rep) { seen.push_back(rep); });
  REQUIRE(r);
  REQUIRE(seen.size() == 5);
  CHECK(r->size() == 5);
  for (std::size_t k = 0; k < seen.size(); ++k) {
    CHECK(seen[k].batch == k + 1);
    CHECK(seen[k].ratings_seen == 1000 * (k + 1));
    CHECK(seen[k].rmse == (*r)[k].rmse);
    CHECK(seen[k].elapsed_seconds >= seen[k].batch_seconds);
  }
  o.max_batches = 0;
  streaming_trainer whole(stream_params{}, d.train.scale);
  auto all = stream_evaluate(whole, d.train, d.test, o);
  REQUIRE(all);
  CHECK(all->back().ratings_seen == d.train.size());
  CHECK(all->size() == (d.train.size() + 999) / 1000);
}

TEST_CASE("streaming: ml-latest-small in batches of 1,000 with the shipped defaults",
          "[stream][accuracy]") {
  auto table = read_ratings(test::data_dir() + "/ml-latest-small/ratings.csv");
  REQUIRE(table);
  auto s = random_split(table->ratings, 0.8, 42);
  auto train = table->with_ratings(std::move(s.train));
  auto test = table->with_ratings(std::move(s.test));
  auto t = streaming_trainer::make(stream_params{}, train.scale);
  REQUIRE(t);
  auto r = stream_evaluate(*t, train, test, stream_eval_options{.batch_size = 1000});
  REQUIRE(r);
  double worst_after_40 = 0.0;
  for (const auto& rep : *r)
    if (rep.batch > 40)
      worst_after_40 = std::max(worst_after_40, rep.rmse);
  WARN("ml-latest-small streaming: " << r->size() << " batches, final RMSE "
                                      << r->back().rmse << ", MAE " << r->back().mae
                                      << ", worst after batch 40 " << worst_after_40 << ", "
                                      << r->back().elapsed_seconds << " s");
  CHECK(r->size() == 81);
  CHECK(r->back().rmse <= 0.90);
  CHECK(worst_after_40 <= 0.95);
}
