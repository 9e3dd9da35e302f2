/// Streaming updates per second of the reference trainer against a strong baseline.
///
/// Run: ./bench_streaming [ratings=2000000] [users=100000] [items=20000] [batch=10000]
///                        [repeats=3]
/// Streams a seeded synthetic set (and a quarter as many ratings on 2,000 users and 1,000
/// items, whose tables stay in cache) through streaming_trainer (batch_gradient and sgd, the
/// default passes, float rows with double sums) at rank 10, 50 and 100, and through the
/// baseline in the same run, `repeats` rounds interleaved; prints the medians of rating
/// updates per second (ratings x passes / CPU s) and of the reference's rate as a ratio of
/// the baseline's in the same round.
///
/// The baseline is the fastest single-thread streaming loop we could write for the same
/// work as the reference's sgd mode: plain biased SGD, the same batches and passes, with
/// float storage (rows of [factors, bias] padded to whole 64-byte lines), each batch's
/// rows gathered into a dense working set (first-touch order, so they stay in cache
/// across the passes) and scattered back after, the rows of the rating 8 ahead
/// prefetched, the rank fixed at compile time, loops vectorised and compiled for
/// AVX-512 / AVX2 / baseline x86-64 with load-time dispatch, FMA contraction allowed. It
/// does less than batch_gradient (no per-key sums, no capped step) and skips the id
/// translation (table index = row) and the running mean: a yardstick, not a rival model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "median.hpp"
#include "recflow/model/random.hpp"
#include "recflow/model/streaming.hpp"

using namespace recflow;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// CPU seconds of this (single-threaded) process: steadier than wall time on a shared
/// machine.
double cpu_now() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

/// Users uniform, items skewed (popularity ~ u^3, a few hundred heavy items), values
/// 1..5 from a user and an item bias plus noise. External ids are scrambled so the id
/// maps' order differs from the ids.
rating_table synthetic(std::size_t n, std::uint32_t users, std::uint32_t items) {
  splitmix64 rng{2024};
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

/// Float working rows for the baseline: 64-byte aligned, freed with std::free.
struct float_rows {
  std::unique_ptr<float, decltype(&std::free)> data{nullptr, &std::free};
  float_rows(std::size_t rows, std::size_t stride, float fill) {
    auto n = std::max<std::size_t>(rows * stride, 16);
    data.reset(static_cast<float*>(std::aligned_alloc(64, n * sizeof(float))));
    if (!data)
      std::abort();
    std::fill_n(data.get(), n, fill);
  }
  float* row(std::size_t r, std::size_t stride) const noexcept { return data.get() + r * stride; }
};

/// One biased SGD step in float on rows [factors (K), bias] with the rank fixed at
/// compile time: 16 partial sums for the dot product, element-wise updates; the loops
/// are vectorised for the clone's ISA (see baseline_passes). FMA contraction is allowed
/// in this file (CMakeLists.txt), so the baseline gets it where the CPU has it.
template <int K>
inline void baseline_step(float r, float mu, float* __restrict u, float* __restrict q,
                          const float g, const float gb, const float l,
                          const float lb) noexcept {
  float acc[16] = {};
  int k = 0;
  for (; k + 16 <= K; k += 16)
    for (int j = 0; j < 16; ++j)
      acc[j] += u[k + j] * q[k + j];
  for (int j = 0; k + j < K; ++j)
    acc[j] += u[k + j] * q[k + j];
  float dot = 0.0f;
  for (int j = 0; j < 16; ++j)
    dot += acc[j];
  float e = r - (mu + u[K] + q[K] + dot);
  u[K] += gb * (e - lb * u[K]);
  q[K] += gb * (e - lb * q[K]);
  for (int j = 0; j < K; ++j) {
    float uk = u[j], qk = q[j];
    u[j] = uk + g * (e * qk - l * uk);
    q[j] = qk + g * (e * uk - l * qk);
  }
}

struct baseline_rating {
  std::uint32_t u, i;  ///< slots in the working sets
  float r;
};

template <int K>
inline void baseline_passes_k(const baseline_rating* batch, std::size_t n, int passes,
                              float* users, float* items, std::size_t stride,
                              const stream_params& p) {
  const float g = float(p.gamma), gb = float(p.gamma_bias), l = float(p.lambda),
              lb = float(p.lambda_bias), mu = 3.5f;
  constexpr std::size_t ahead = 8;
  for (int pass = 0; pass < passes; ++pass)
    for (std::size_t j = 0; j < n; ++j) {
      if (j + ahead < n)
        for (std::size_t c = 0; c < stride; c += 16) {
          __builtin_prefetch(users + batch[j + ahead].u * stride + c);
          __builtin_prefetch(items + batch[j + ahead].i * stride + c);
        }
      const auto& b = batch[j];
      baseline_step<K>(b.r, mu, users + b.u * stride, items + b.i * stride, g, gb, l, lb);
    }
}

/// The passes of one batch over the working sets, compiled for AVX-512, AVX2 and the
/// baseline ISA like the reference's loops.
RECFLOW_VECTOR_LOOP void baseline_passes(int rank, const baseline_rating* batch,
                                         std::size_t n, int passes, float* users,
                                         float* items, std::size_t stride,
                                         const stream_params& p) {
  switch (rank) {
    case 10: return baseline_passes_k<10>(batch, n, passes, users, items, stride, p);
    case 50: return baseline_passes_k<50>(batch, n, passes, users, items, stride, p);
    case 100: return baseline_passes_k<100>(batch, n, passes, users, items, stride, p);
    default: std::abort();
  }
}

/// The baseline (see the file comment): plain biased SGD in float, the same passes over
/// each batch as the reference, on a dense working set of the batch's rows.
template <int K>
double run_baseline(const rating_table& t, const stream_params& p, std::size_t batch,
                    double& checksum) {
  constexpr std::size_t stride = (K + 1 + 15) / 16 * 16;  // factors, bias; whole lines
  constexpr auto npos = std::numeric_limits<std::uint32_t>::max();
  float_rows U(t.users.size(), stride, 0.01f), P(t.items.size(), stride, 0.01f);
  for (std::size_t r = 0; r < t.users.size(); ++r)
    U.row(r, stride)[K] = 0.0f;
  for (std::size_t r = 0; r < t.items.size(); ++r)
    P.row(r, stride)[K] = 0.0f;
  float_rows wu(batch, stride, 0.0f), wi(batch, stride, 0.0f);
  std::vector<std::uint32_t> user_slot(t.users.size(), npos), item_slot(t.items.size(), npos);
  std::vector<std::uint32_t> user_keys, item_keys;
  std::vector<baseline_rating> work;
  user_keys.reserve(batch);
  item_keys.reserve(batch);
  work.reserve(batch);
  double c0 = cpu_now();
  for (std::size_t at = 0; at < t.ratings.size(); at += batch) {
    auto end = std::min(at + batch, t.ratings.size());
    auto slot = [&](std::vector<std::uint32_t>& slot_of, std::vector<std::uint32_t>& keys,
                    const float_rows& from, const float_rows& to, std::uint32_t key) {
      auto& s = slot_of[key];
      if (s == npos) {
        s = static_cast<std::uint32_t>(keys.size());
        keys.push_back(key);
        std::copy_n(from.row(key, stride), stride, to.row(s, stride));
      }
      return s;
    };
    work.clear();
    for (std::size_t k = at; k < end; ++k) {
      const auto& r = t.ratings[k];
      work.push_back({slot(user_slot, user_keys, U, wu, r.user),
                      slot(item_slot, item_keys, P, wi, r.item), r.value});
    }
    baseline_passes(K, work.data(), work.size(), p.passes, wu.data.get(), wi.data.get(),
                    stride, p);
    auto back = [&](std::vector<std::uint32_t>& slot_of, std::vector<std::uint32_t>& keys,
                    const float_rows& from, const float_rows& to) {
      for (std::size_t s = 0; s < keys.size(); ++s) {
        std::copy_n(from.row(s, stride), stride, to.row(keys[s], stride));
        slot_of[keys[s]] = npos;
      }
      keys.clear();
    };
    back(user_slot, user_keys, wu, U);
    back(item_slot, item_keys, wi, P);
  }
  double s = cpu_now() - c0;
  checksum = double(U.row(0, stride)[0]) + P.row(0, stride)[0] + U.row(0, stride)[K];
  return s;
}

using bench::median;

/// Runs baseline, batch_gradient and sgd `repeats` times, interleaved (A B C A B C ...), and
/// prints the medians: each rate's and each run's ratio to the baseline of its round, so a
/// neighbour's load during one round moves one sample, not the figure.
template <int K>
void bench_rank(const rating_table& t, std::size_t batch, std::size_t repeats) {
  stream_params p;
  p.rank = K;
  const double updates = static_cast<double>(t.size()) * p.passes;
  double checksum = 0.0, rmse_bg = 0.0, rmse_sgd = 0.0;
  std::vector<double> base, bg, sgd, bg_ratio, sgd_ratio;
  for (std::size_t k = 0; k < repeats; ++k) {
    double b = run_baseline<K>(t, p, batch, checksum);
    p.mode = update_mode::batch_gradient;
    double g = run_reference(t, p, batch, rmse_bg);
    p.mode = update_mode::sgd;
    double s = run_reference(t, p, batch, rmse_sgd);
    base.push_back(updates / b / 1e6);
    bg.push_back(updates / g / 1e6);
    sgd.push_back(updates / s / 1e6);
    bg_ratio.push_back(b / g);
    sgd_ratio.push_back(b / s);
  }
  // Also against the baseline's fastest round: the stricter yardstick.
  const double best = *std::max_element(base.begin(), base.end());
  fmt::print("rank {:3}  baseline {:6.2f} M/s (fastest {:6.2f}) | batch_gradient {:6.2f} M/s = "
             "{:4.2f}x baseline ({:4.2f}x fastest), last-batch rmse {:.3f} | sgd {:6.2f} M/s = "
             "{:4.2f}x, rmse {:.3f}  [{:.0e}]\n",
             K, median(base), best, median(bg), median(bg_ratio), median(bg) / best, rmse_bg,
             median(sgd), median(sgd_ratio), rmse_sgd, checksum);
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
  std::size_t repeats = arg(5, 3);
  if (n == 0 || users == 0 || items == 0 || batch == 0 || repeats == 0) {
    fmt::print(stderr, "ratings, users, items, batch and repeats must be positive\n");
    return 2;
  }
  auto t0 = clock_type::now();
  stream_params defaults;
  fmt::print("updates/s = ratings x passes / CPU second ({} passes per batch; reference: float "
             "rows, double sums; baseline: float, FMA); Nx baseline = reference rate / "
             "baseline rate of the same round; medians of {} interleaved rounds\n", defaults.passes,
             repeats);
  auto run = [&](std::size_t ratings, std::uint32_t u, std::uint32_t i, const char* what) {
    auto g0 = clock_type::now();
    auto t = synthetic(ratings, u, i);
    fmt::print("{}: {} ratings, {} users, {} items seen, batches of {} (generated in {:.1f} s)\n",
               what, t.size(), t.users.size(), t.items.size(), batch, seconds_since(g0));
    bench_rank<10>(t, batch, repeats);
    bench_rank<50>(t, batch, repeats);
    bench_rank<100>(t, batch, repeats);
  };
  run(n, users, items, "large set (tables beyond cache)");
  run(n / 4, 2'000, 1'000, "small set (tables in cache)");
  fmt::print("total {:.1f} s\n", seconds_since(t0));
  return 0;
}
