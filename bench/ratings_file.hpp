/// A generated ml-latest-style rating file for the benchmarks (bench_ingest, bench_memory).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace recflow::bench {

/// Writes `userId,movieId,rating,timestamp` lines sorted by user then movie, like
/// ml-latest: users get exponentially distributed counts, movies a skewed popularity,
/// half-star ratings, ten-digit timestamps.
inline void write_ratings_file(const std::string& path, std::uint64_t ratings, std::uint32_t users,
                               std::uint32_t items, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> weight(1.0);
  std::vector<double> w(users);
  double total = 0;
  for (auto& x : w) total += x = weight(rng);
  std::vector<std::uint64_t> count(users);
  std::uint64_t assigned = 0;
  for (std::uint32_t u = 0; u < users; ++u)
    assigned += count[u] = static_cast<std::uint64_t>(static_cast<double>(ratings) * w[u] / total);
  for (std::uint64_t k = 0; assigned < ratings; ++k, ++assigned) ++count[k % users];

  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> stars(1, 10);
  std::uniform_int_distribution<std::int64_t> when(1'000'000'000, 1'600'000'000);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::string out = "userId,movieId,rating,timestamp\n";
  std::vector<std::uint32_t> movies;
  char num[24];
  auto put = [&](auto v) { out.append(num, std::to_chars(num, num + sizeof num, v).ptr); };
  for (std::uint32_t u = 0; u < users; ++u) {
    movies.resize(count[u]);
    for (auto& m : movies) {
      double x = unit(rng);
      m = 1 + static_cast<std::uint32_t>(x * x * (items - 1));
    }
    std::sort(movies.begin(), movies.end());
    for (auto m : movies) {
      int s = stars(rng);
      put(u + 1);
      out.push_back(',');
      put(m);
      out.push_back(',');
      put(s / 2);
      out += s % 2 ? ".5," : ".0,";
      put(when(rng));
      out.push_back('\n');
    }
    if (out.size() > (4u << 20)) {
      std::fwrite(out.data(), 1, out.size(), f);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), f);
  std::fclose(f);
}

}  // namespace recflow::bench
