/// Streaming updates per second of the reference trainer against the speed of light.
///
/// Run: ./bench_streaming [ratings=2000000] [users=100000] [items=20000] [batch=10000]
/// Streams a seeded synthetic set (and a quarter as many ratings on 2,000 users and 1,000
/// items, whose tables stay in cache) through streaming_trainer (batch_gradient and sgd, the
/// default passes) at rank 10, 50 and 100, and through a minimal raw-array biased-SGD loop
/// with the rank fixed at compile time and the indices precomputed (the speed of light),
/// both in double; prints rating updates per second (ratings x passes / s) and the ratio.
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <fmt/core.h>

#include "model/streaming.hpp"

using namespace recflow;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// CPU seconds of this (single-threaded) process: steadier than wall time on a shared
/// machine.
double cpu_now() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct splitmix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
};

/// Users uniform, items skewed (popularity ~ u^3, a few hundred heavy items), values
/// 1..5 from a user and an item bias plus noise. External ids are scrambled so the id
/// maps' order differs from the ids.
rating_table synthetic(std::size_t n, std::uint32_t users, std::uint32_t items) {
  splitmix rng{2024};
  rating_table t;
  t.users.reserve(users);
  t.items.reserve(items);
  std::vector<double> ub(users), ib(items);
  for (auto& b : ub)
    b = rng.uniform() - 0.5;
  for (auto& b : ib)
    b = rng.uniform() - 0.5;
  t.ratings.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    auto u = static_cast<std::uint32_t>(rng.next() % users);
    double x = rng.uniform();
    auto i = static_cast<std::uint32_t>(x * x * x * items) % items;
    double v = std::round(3.5 + ub[u] + ib[i] + (rng.uniform() - 0.5) * 2.0);
    auto tu = t.users.insert(std::int64_t(u) * 7919 + 13);
    auto ti = t.items.insert(std::int64_t(i) * 104729 + 7);
    t.ratings.push_back({tu, ti, static_cast<float>(t.scale.clamp(v)), 0});
  }
  return t;
}

/// Streams the table through a trainer; returns seconds.
double run_reference(const rating_table& t, stream_params p, std::size_t batch, double& rmse) {
  streaming_trainer tr(p, t.scale);
  std::span<const rating> all(t.ratings);
  double c0 = cpu_now();
  for (std::size_t at = 0; at < all.size(); at += batch)
    if (!tr.apply(all.subspan(at, std::min(batch, all.size() - at)), t.users, t.items))
      std::abort();
  double s = cpu_now() - c0;
  // Training error of the last batch, to show the runs did real work.
  double se = 0.0;
  auto last = all.last(std::min(batch, all.size()));
  for (const auto& r : last) {
    double e = tr.model().predict_external(t.users.external(r.user), t.items.external(r.item))
               - r.value;
    se += e * e;
  }
  rmse = std::sqrt(se / static_cast<double>(last.size()));
  return s;
}

/// The speed of light: biased SGD on raw double arrays, rank fixed at compile time,
/// indices precomputed, the same passes over each batch.
template <int K>
double run_baseline(const rating_table& t, const stream_params& p, std::size_t batch,
                    double& checksum) {
  using vec = Eigen::Map<Eigen::Matrix<double, K, 1>>;
  std::vector<double> U(std::size_t(t.users.size()) * K, 0.01), P(std::size_t(t.items.size()) * K, 0.01);
  std::vector<double> bu(t.users.size(), 0.0), bi(t.items.size(), 0.0);
  const double mu = 3.5, g = p.gamma, gb = p.gamma_bias, l = p.lambda, lb = p.lambda_bias;
  double c0 = cpu_now();
  for (std::size_t at = 0; at < t.ratings.size(); at += batch) {
    auto end = std::min(at + batch, t.ratings.size());
    for (int pass = 0; pass < p.passes; ++pass)
      for (std::size_t k = at; k < end; ++k) {
        const auto& r = t.ratings[k];
        vec u(U.data() + std::size_t(r.user) * K), q(P.data() + std::size_t(r.item) * K);
        double e = r.value - (mu + bu[r.user] + bi[r.item] + u.dot(q));
        bu[r.user] += gb * (e - lb * bu[r.user]);
        bi[r.item] += gb * (e - lb * bi[r.item]);
        if constexpr (K <= 20) {  // whichever form is faster at this rank
          Eigen::Matrix<double, K, 1> u_old = u;
          u += g * (e * q - l * u);
          q += g * (e * u_old - l * q);
        } else {
          double* uu = u.data();
          double* qq = q.data();
          for (int k = 0; k < K; ++k) {
            double uk = uu[k], qk = qq[k];
            uu[k] = uk + g * (e * qk - l * uk);
            qq[k] = qk + g * (e * uk - l * qk);
          }
        }
      }
  }
  double s = cpu_now() - c0;
  checksum = U[0] + P[0] + bu[0] + bi[0];
  return s;
}

template <int K>
void bench_rank(const rating_table& t, std::size_t batch) {
  stream_params p;
  p.rank = K;
  double updates = static_cast<double>(t.size()) * p.passes;
  double checksum = 0.0, rmse_bg = 0.0, rmse_sgd = 0.0;
  double base = run_baseline<K>(t, p, batch, checksum);
  double bg = run_reference(t, p, batch, rmse_bg);
  p.mode = update_mode::sgd;
  double sgd = run_reference(t, p, batch, rmse_sgd);
  auto rate = [&](double s) { return updates / s / 1e6; };
  fmt::print("rank {:3}  speed of light {:6.2f} M/s | batch_gradient {:6.2f} M/s ({:4.2f} of it) "
             "last-batch rmse {:.3f} | sgd {:6.2f} M/s ({:4.2f}) rmse {:.3f}  [{:.0e}]\n",
             K, rate(base), rate(bg), base / bg, rmse_bg, rate(sgd), base / sgd, rmse_sgd,
             checksum);
}

}  // namespace

int main(int argc, char** argv) {
  auto arg = [&](int k, std::size_t fallback) {
    return argc > k ? std::strtoull(argv[k], nullptr, 10) : fallback;
  };
  std::size_t n = arg(1, 2'000'000);
  auto users = static_cast<std::uint32_t>(arg(2, 100'000));
  auto items = static_cast<std::uint32_t>(arg(3, 20'000));
  std::size_t batch = arg(4, 10'000);
  if (n == 0 || users == 0 || items == 0 || batch == 0) {
    fmt::print(stderr, "ratings, users, items and batch must be positive\n");
    return 2;
  }
  auto t0 = clock_type::now();
  stream_params defaults;
  fmt::print("updates/s = ratings x passes / CPU second ({} passes per batch, double); "
             "(x of it) = reference rate / speed of light\n", defaults.passes);
  auto run = [&](std::size_t ratings, std::uint32_t u, std::uint32_t i, const char* what) {
    auto g0 = clock_type::now();
    auto t = synthetic(ratings, u, i);
    fmt::print("{}: {} ratings, {} users, {} items seen, batches of {} (generated in {:.1f} s)\n",
               what, t.size(), t.users.size(), t.items.size(), batch, seconds_since(g0));
    bench_rank<10>(t, batch);
    bench_rank<50>(t, batch);
    bench_rank<100>(t, batch);
  };
  run(n, users, items, "large set (tables beyond cache)");
  run(n / 4, 2'000, 1'000, "small set (tables in cache)");
  fmt::print("total {:.1f} s\n", seconds_since(t0));
  return 0;
}
