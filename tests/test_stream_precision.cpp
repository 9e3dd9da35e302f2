// The precision bound of the streaming kernels (stream_kernel.hpp, docs/model.md
// "Precision"): factors, their gradient sums and their steps are computed in float. This
// checks a whole batch-gradient batch against the same semantics computed in double.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "recflow/model/random.hpp"
#include "recflow/model/streaming.hpp"
#include "tests/gap_test_util.hpp"

using namespace recflow;

namespace {

/// One batch-gradient batch (streaming.hpp's semantics) in double from `m`'s state: the
/// errors, sums and steps in double, the factors rounded to float once at the end. The
/// batch's ids are in `m` already and its mean is folded in.
void batch_in_double(factor_model& m, std::span<const rating> batch, const stream_params& p) {
  const int k = m.rank();
  std::vector<double> U(m.U().data().begin(), m.U().data().end());
  std::vector<double> P(m.P().data().begin(), m.P().data().end());
  auto& bu = m.user_bias();
  auto& bi = m.item_bias();
  std::vector<double> nu(bu.size()), ni(bi.size());
  for (const auto& r : batch) {
    nu[r.user] += 1.0;
    ni[r.item] += 1.0;
  }
  for (int pass = 0; pass < p.passes; ++pass) {
    std::vector<double> gu(U.size()), gi(P.size()), gbu(bu.size()), gbi(bi.size());
    for (const auto& r : batch) {
      const double* u = &U[std::size_t(r.user) * k];
      const double* q = &P[std::size_t(r.item) * k];
      double dot = 0.0;
      for (int j = 0; j < k; ++j)
        dot += u[j] * q[j];
      double e = r.value - (m.mu() + bu[r.user] + bi[r.item] + dot);
      gbu[r.user] += e;
      gbi[r.item] += e;
      for (int j = 0; j < k; ++j) {
        gu[std::size_t(r.user) * k + j] += e * q[j];
        gi[std::size_t(r.item) * k + j] += e * u[j];
      }
    }
    auto step = [&](std::vector<double>& x, std::vector<double>& g, std::vector<double>& b,
                    std::vector<double>& gb, const std::vector<double>& n) {
      for (std::size_t key = 0; key < n.size(); ++key) {
        if (n[key] == 0.0)
          continue;
        auto capped = [&](double rate) {
          return p.max_step > 0.0 && rate * n[key] > p.max_step ? p.max_step / n[key] : rate;
        };
        b[key] += capped(p.gamma_bias) * (gb[key] - n[key] * p.lambda_bias * b[key]);
        for (int j = 0; j < k; ++j) {
          auto& xj = x[key * std::size_t(k) + std::size_t(j)];
          xj += capped(p.gamma) * (g[key * std::size_t(k) + std::size_t(j)] - n[key] * p.lambda * xj);
        }
      }
    };
    step(U, gu, bu, gbu, nu);
    step(P, gi, bi, gbi, ni);
  }
  std::transform(U.begin(), U.end(), m.U().data().begin(), [](double v) { return float(v); });
  std::transform(P.begin(), P.end(), m.P().data().begin(), [](double v) { return float(v); });
}

}  // namespace

TEST_CASE("streaming precision: a float batch agrees with double arithmetic within 1e-5",
          "[stream][precision]") {
  // Rank 50, 1,000 users x 500 items, then a batch of 10,000 ratings in which item 0 has
  // 5,000 (its sums add 5,000 float terms): the bound docs/model.md states.
  stream_params p;
  p.rank = 50;
  p.init_stddev = 0.1;
  id_map users, items;
  for (std::int64_t id = 0; id < 1000; ++id)
    users.insert(id);
  for (std::int64_t id = 0; id < 500; ++id)
    items.insert(id);
  splitmix64 rng{7};
  auto make_batch = [&](std::size_t n, double heavy) {
    std::vector<rating> b;
    for (std::size_t j = 0; j < n; ++j) {
      auto u = index_t(rng.uniform() * 1000), i = rng.uniform() < heavy ? 0 : index_t(rng.uniform() * 500);
      b.push_back({u, i, float(1 + std::floor(rng.uniform() * 5)), 0});
    }
    return b;
  };
  auto t = streaming_trainer::make(p, rating_scale{});
  REQUIRE(t);
  for (int warm = 0; warm < 5; ++warm)  // factors away from their tiny initial values
    REQUIRE(t->apply(make_batch(10000, 0.0), users, items));
  auto batch = make_batch(10000, 0.5);
  factor_model want = t->model();
  want.observe_mean(batch);
  auto in_model = batch;  // every id is in the model already; its indices are the model's
  for (auto& r : in_model) {
    r.user = want.users().find(users.external(r.user));
    r.item = want.items().find(items.external(r.item));
    REQUIRE((r.user != id_map::npos && r.item != id_map::npos));
    ++want.user_count()[r.user];
    ++want.item_count()[r.item];
  }
  batch_in_double(want, in_model, p);
  REQUIRE(t->apply(batch, users, items));
  const auto& got = t->model();
  INFO("user factors " << test::relative_gap(got.U().data(), want.U().data()) << ", item factors "
                       << test::relative_gap(got.P().data(), want.P().data()) << ", user biases "
                       << test::relative_gap(got.user_bias(), want.user_bias()) << ", item biases "
                       << test::relative_gap(got.item_bias(), want.item_bias()));
  CHECK(test::relative_gap(got.U().data(), want.U().data()) < 1e-5);
  CHECK(test::relative_gap(got.P().data(), want.P().data()) < 1e-5);
  CHECK(test::relative_gap(got.user_bias(), want.user_bias()) < 1e-5);
  CHECK(test::relative_gap(got.item_bias(), want.item_bias()) < 1e-5);
  CHECK(got.user_count() == want.user_count());
}
