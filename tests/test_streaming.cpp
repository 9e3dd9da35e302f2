#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "recflow/model/split.hpp"
#include "recflow/model/streaming.hpp"
#include "test_util.hpp"
#include "tests/gap_test_util.hpp"

using namespace recflow;

namespace {

/// An id map holding external ids first, first + 1, ... (n of them).
id_map ids(std::int64_t first, std::uint32_t n) {
  id_map m;
  for (std::uint32_t k = 0; k < n; ++k)
    m.insert(first + k);
  return m;
}

std::vector<float> row_of(const factor_table& t, index_t r) {
  auto row = t.row(r);
  return {row.data(), row.data() + row.size()};
}

std::vector<float> initial(side s, std::int64_t id, const stream_params& p) {
  std::vector<float> v(std::size_t(p.rank));
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
  // The error as the kernels compute it (a float dot product, see stream_kernel.hpp).
  double e = stream_kernel::error_of(4.0, mu, 0.25, -0.5, seed.U().row(u).data(),
                                     seed.P().row(i).data(), p.rank);
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
      // Computed in float: a few roundings of 2^-24 relative each.
      CHECK(m.U().row(u)[k] == Approx(uk + n * p.gamma * (e * pk - p.lambda * uk)).epsilon(0x1p-22));
      CHECK(m.P().row(i)[k] == Approx(pk + n * p.gamma * (e * uk - p.lambda * pk)).epsilon(0x1p-22));
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

TEST_CASE("streaming: per-key sums in batch order with the shared kernels reproduce a "
          "batch-gradient batch bit for bit",
          "[stream]") {
  // What a partitioned graph does: errors from the model at the start of the pass, each
  // key's owner (two user and two item partitions) summing its contributions in batch
  // order, then each owner applying its sums, in whatever key order.
  auto d = planted(8);
  stream_params p;
  p.rank = GENERATE(10, 7);  // a fixed-size and a runtime-sized kernel
  p.passes = 3;
  // Summing in reverse batch order instead only reassociates: within 1e-6 of the largest value.
  bool reverse = GENERATE(false, true);
  streaming_trainer t(p, d.train.scale);
  std::span<const rating> all(d.train.ratings);
  REQUIRE(t.apply(all.first(3000), d.train.users, d.train.items));
  factor_model m = t.model();
  auto batch = all.subspan(3000, 2000);
  REQUIRE(t.apply(batch, d.train.users, d.train.items));

  m.observe_mean(batch);
  struct sums {
    double g_bias = 0.0, n = 0.0;
    std::vector<float> g;
  };
  std::vector<index_t> mu_of, mi_of;  // model index of each rating's user and item
  for (const auto& r : batch) {
    mu_of.push_back(m.add_user(d.train.users.external(r.user), p.seed, p.init_stddev));
    mi_of.push_back(m.add_item(d.train.items.external(r.item), p.seed, p.init_stddev));
    ++m.user_count()[mu_of.back()];
    ++m.item_count()[mi_of.back()];
  }
  const int k = p.rank;
  // Working rows are floats like the model's, so each owner may step the model's rows.
  auto row = [&](int s, index_t key) { return (s == 0 ? m.U() : m.P()).row(key).data(); };
  for (int pass = 0; pass < p.passes; ++pass) {
    std::vector<double> e(batch.size());
    for (std::size_t j = 0; j < batch.size(); ++j)
      e[j] = stream_kernel::error_of(batch[j].value, m.mu(), m.user_bias()[mu_of[j]],
                                     m.item_bias()[mi_of[j]], row(0, mu_of[j]),
                                     row(1, mi_of[j]), k);
    std::map<index_t, sums> owners[2][2];  // [side][partition]
    for (int part = 1; part >= 0; --part)
      for (std::size_t jj = 0; jj < batch.size(); ++jj) {
        auto j = reverse ? batch.size() - 1 - jj : jj;
        if (int(mu_of[j] % 2) == part) {
          auto& s = owners[0][part][mu_of[j]];
          s.g.resize(std::size_t(k));
          s.g_bias += e[j];
          s.n += 1.0;
          stream_kernel::accumulate(s.g.data(), e[j], row(1, mi_of[j]), k);
        }
        if (int(mi_of[j] % 2) == part) {
          auto& s = owners[1][part][mi_of[j]];
          s.g.resize(std::size_t(k));
          s.g_bias += e[j];
          s.n += 1.0;
          stream_kernel::accumulate(s.g.data(), e[j], row(0, mu_of[j]), k);
        }
      }
    for (auto& part : owners[0])
      for (auto& [key, s] : part)
        stream_kernel::apply_step(m.user_bias()[key], row(0, key), s.g_bias,
                                  s.g.data(), s.n, k, p);
    for (auto& part : owners[1])
      for (auto& [key, s] : part)
        stream_kernel::apply_step(m.item_bias()[key], row(1, key), s.g_bias,
                                  s.g.data(), s.n, k, p);
  }
  if (!reverse) {
    CHECK(m == t.model());
    return;
  }
  const auto& want = t.model();
  // Reassociated float sums differ in their last bits (2^-23 relative per addition, a few
  // dozen terms), and the later passes carry that on through the errors.
  // Gaps against the largest magnitude (test::relative_gap).
  auto close = [](const auto& a, const auto& b, double rel) {
    REQUIRE(a.size() == b.size());
    auto gap = test::relative_gap(a, b);
    INFO("largest difference " << gap << " of the largest value");
    return gap <= rel;
  };
  CHECK(close(m.U().data(), want.U().data(), 1e-6));
  CHECK(close(m.P().data(), want.P().data(), 1e-6));
  CHECK(close(m.user_bias(), want.user_bias(), 1e-6));
  CHECK(close(m.item_bias(), want.item_bias(), 1e-6));
  CHECK(m.user_bias() != want.user_bias());  // the order did change the last bits
}

TEST_CASE("streaming: a key with many ratings in a batch steps at most max_step times its "
          "mean gradient",
          "[stream]") {
  stream_params p;
  p.passes = 1;
  factor_model seed(p.rank, rating_scale{});
  auto u = seed.add_user(1, 1, 0.1);
  auto users = ids(1, 1), items = ids(1, 2000);
  std::vector<rating> batch;  // one user rates 2,000 items 5 stars: gamma_bias * n = 10
  for (index_t i = 0; i < 2000; ++i)
    batch.push_back({0, i, 5.0f, 0});
  seed.user_bias()[u] = 0.5;
  auto run = [&](double max_step) {
    p.max_step = max_step;
    auto t = streaming_trainer::make(p, seed);
    REQUIRE(t);
    REQUIRE(t->apply(batch, users, items));
    return t->model().user_bias()[u];
  };
  // mu becomes 5; each error is about -0.5 (new items have bias 0, factors tiny).
  double capped = run(1.0), uncapped = run(0.0);
  CHECK(capped == Approx(0.5 + (-0.5 - p.lambda_bias * 0.5)).margin(0.01));  // to the mean
  CHECK(uncapped == Approx(0.5 + 10.0 * (-0.5 - p.lambda_bias * 0.5)).margin(0.1));  // 10x past
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
  // mu is 5 after folding the batch in; the error as the kernels compute it.
  double e = stream_kernel::error_of(5.0, 5.0, 0.0, 0.0, u0.data(), p0.data(), p.rank);
  const auto& m = t.model();
  CHECK(m.user_bias()[0] == Approx(p.gamma_bias * e).epsilon(1e-12));
  for (int k = 0; k < p.rank; ++k) {
    // In float from the float inputs: a few roundings of 2^-24 relative each.
    double uk = u0[k], pk = p0[k];
    CHECK(m.U().row(0)[k] == Approx(uk + p.gamma * (e * pk - p.lambda * uk)).epsilon(0x1p-23));
    CHECK(m.P().row(0)[k] == Approx(pk + p.gamma * (e * uk - p.lambda * pk)).epsilon(0x1p-23));
  }
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

TEST_CASE("streaming: a model replaced through model() is trained under its own indices",
          "[stream]") {
  auto d = planted(2);
  stream_params p;
  std::span<const rating> all(d.train.ratings);
  auto x = all.subspan(1000, 1000), y = all.first(1000);
  streaming_trainer t(p, d.train.scale), c(p, d.train.scale);
  REQUIRE(t.apply(x, d.train.users, d.train.items));  // t's indices in x's order
  REQUIRE(c.apply(y, d.train.users, d.train.items));  // c's cache: y's order
  c.model() = t.model();
  REQUIRE(t.apply(y, d.train.users, d.train.items));
  REQUIRE(c.apply(y, d.train.users, d.train.items));
  CHECK(c.model() == t.model());
}
