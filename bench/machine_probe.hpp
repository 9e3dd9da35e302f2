// How much two threads get from this machine's memory at the moment, against one. On this
// project's 2-core VM the ratio has read anywhere from about 2.0 (two cores, each with its
// own share) down to 1.2 (two threads reading memory slow each other down), within one
// benchmark run. It does not predict the ratio of the run measured after it
// (docs/benchmarks.md); benchmarks print it beside their figures as the machine's state.
//
//   auto p = recflow::bench::probe_memory_scaling();
//   std::printf("two threads reading rows: %.2fx one\n", p.ratio);
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace recflow::bench {

struct memory_scaling {
  double one_ns = 0.0;  ///< ns per row read, one thread alone
  double two_ns = 0.0;  ///< ns per row read by each of two threads at once
  double ratio = 0.0;   ///< two threads' rows per second / one thread's (2.0: no contention)
};

namespace detail {

/// The n-th CPU this process may run on, or -1.
inline int allowed_cpu(int n) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set) && n-- == 0)
      return cpu;
  return -1;
}

inline void pin_to(int cpu) {
  if (cpu < 0)
    return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

}  // namespace detail

/// Reads `reads` random rows of 50 floats from a table of 120,000 rows (24 MB, the size of
/// a rank-50 model of 100,000 users and 20,000 items), prefetching a few rows ahead as the
/// evaluation does; once on one CPU, then on two at once; of `rounds` such rounds, the one
/// with the median ratio.
inline memory_scaling probe_memory_scaling(std::size_t reads = 2'000'000, int rounds = 3) {
  rounds = std::max(rounds, 1);
  constexpr std::size_t rows = 120'000, rank = 50, ahead = 8;
  std::vector<float> table(rows * rank, 1.0f);
  std::vector<std::uint32_t> order(reads);
  std::mt19937 gen(7);
  for (auto& r : order)
    r = std::uint32_t(gen() % rows);
  auto read = [&](int cpu, float* out) {
    detail::pin_to(cpu);
    float s = 0.0f;
    for (std::size_t i = 0; i < reads; ++i) {
      if (i + ahead < reads) {
        const char* p = reinterpret_cast<const char*>(&table[order[i + ahead] * rank]);
        for (std::size_t b = 0; b < rank * sizeof(float); b += 64)
          __builtin_prefetch(p + b);
      }
      const float* row = &table[order[i] * rank];
      float d = 0.0f;
      for (std::size_t k = 0; k < rank; ++k)
        d += row[k];
      s += d;
    }
    *out = s;
  };
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  int a = detail::allowed_cpu(0), b = detail::allowed_cpu(1);
  std::vector<memory_scaling> runs;
  for (int r = 0; r < rounds; ++r) {
    float x = 0, y = 0;
    auto t0 = clock::now();
    std::thread(read, a, &x).join();
    auto t1 = clock::now();
    std::thread first(read, a, &x), second(read, b, &y);
    first.join();
    second.join();
    auto t2 = clock::now();
    memory_scaling m{.one_ns = secs(t0, t1) / double(reads) * 1e9,
                     .two_ns = secs(t1, t2) / double(reads) * 1e9,
                     .ratio = 2.0 * secs(t0, t1) / secs(t1, t2)};
    runs.push_back(m);
  }
  std::sort(runs.begin(), runs.end(), [](const auto& x, const auto& y) { return x.ratio < y.ratio; });
  return runs[runs.size() / 2];
}

}  // namespace recflow::bench
