/// More partitioning strategies, each a small value type modelling `key_partitioner`
/// (graph/partitioner.hpp), so any of them can sit on a graph edge: range, seeded random,
/// degree-aware (greedy) and consistent hashing; plus the 2-D grid, which places a
/// *rating* (user, item) rather than a key and models `rating_partitioner`.
///
/// Header-only on purpose: the `recflow` command and the CAF-free tests link the model
/// and data libraries but not recflow_graph, and these are a few lines each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "recflow/graph/partitioner.hpp"

namespace recflow {

/// The splitmix64 finaliser of `x ^ seed`: the mixer every strategy below hashes with.
inline std::uint64_t mix_key(std::int64_t key, std::uint64_t seed = 0) noexcept {
  return splitmix64_hash(static_cast<std::uint64_t>(key) ^ seed);
}

/// Contiguous id ranges: partition p holds the keys in [upper[p-1], upper[p]); keys below
/// the first bound go to 0, keys at or above the last to n-1. Keeps neighbouring ids
/// together (good when ids carry locality, bad when they carry age or popularity).
struct range_partitioner {
  std::vector<std::int64_t> upper;  ///< n-1 ascending split points (empty: one partition)

  std::size_t operator()(std::int64_t key) const noexcept {
    return static_cast<std::size_t>(std::upper_bound(upper.begin(), upper.end(), key) -
                                    upper.begin());
  }
  std::size_t partitions() const noexcept { return upper.size() + 1; }
  std::string name() const { return "range"; }

  /// Bounds fitted so that each of `n` ranges holds about the same total `weight`
  /// (ratings per key; pass all 1 to balance keys). `keys` and `weights` are parallel;
  /// any order. Fewer distinct keys than `n` leaves some ranges empty.
  static range_partitioner fit(std::span<const std::int64_t> keys,
                               std::span<const std::uint64_t> weights, std::size_t n) {
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return keys[a] < keys[b]; });
    double total = 0;
    for (auto w : weights)
      total += static_cast<double>(w);
    range_partitioner r;
    double acc = 0;
    std::size_t next = 1;
    for (auto k : order) {
      if (next >= n)
        break;
      // Cut before this key once the ranges so far hold their share.
      if (acc >= total * static_cast<double>(next) / static_cast<double>(n) &&
          (r.upper.empty() || keys[k] > r.upper.back())) {
        r.upper.push_back(keys[k]);
        ++next;
      }
      acc += static_cast<double>(weights[k]);
    }
    std::int64_t last = r.upper.empty() ? (order.empty() ? 0 : keys[order.back()]) : r.upper.back();
    while (r.upper.size() + 1 < n)  // too few keys: the remaining ranges start past the data
      r.upper.push_back(++last);
    return r;
  }
};

/// Seeded random assignment, stable per key: a key's partition is a uniform draw seeded by
/// (seed, key), so it never changes while n and the seed stay. Statistically the same as
/// hashing; kept as the baseline a "random placement" argument refers to.
struct random_partitioner {
  std::size_t n = 1;
  std::uint64_t seed = 1;
  std::size_t operator()(std::int64_t key) const noexcept {
    // Multiply-shift maps the draw's top 32 bits onto [0, n) without a modulo (n < 2^32).
    auto draw = mix_key(key, seed * 0xd1342543de82ef95ull + 1);
    return static_cast<std::size_t>(((draw >> 32) * n) >> 32);
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "random"; }
};

/// Degree-aware greedy placement: keys sorted by degree (heaviest first) each go to the
/// currently lightest partition, balancing ratings per partition (LPT scheduling: within
/// 4/3 of optimal). A key is never split: one key heavier than total/n bounds the
/// imbalance from below. Keys not seen when fitting fall back to hashing.
struct degree_partitioner {
  std::size_t n = 1;
  std::shared_ptr<const std::unordered_map<std::int64_t, std::uint32_t>> table;
  std::uint64_t salt = 0;  ///< for the hash fallback

  std::size_t operator()(std::int64_t key) const {
    if (table) {
      auto it = table->find(key);
      if (it != table->end())
        return it->second;
    }
    return hash_partitioner{n, salt}(key);
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "degree"; }

  /// Fits on parallel `keys` and `degrees`; ties broken by key, so the result does not
  /// depend on input order.
  static degree_partitioner fit(std::span<const std::int64_t> keys,
                                std::span<const std::uint64_t> degrees, std::size_t n,
                                std::uint64_t salt = 0) {
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](auto a, auto b) {
      return degrees[a] != degrees[b] ? degrees[a] > degrees[b] : keys[a] < keys[b];
    });
    using load = std::pair<std::uint64_t, std::uint32_t>;  // (ratings, partition)
    std::priority_queue<load, std::vector<load>, std::greater<>> lightest;
    for (std::uint32_t p = 0; p < n; ++p)
      lightest.push({0, p});
    auto map = std::make_shared<std::unordered_map<std::int64_t, std::uint32_t>>();
    map->reserve(keys.size());
    for (auto k : order) {
      auto [w, p] = lightest.top();
      lightest.pop();
      (*map)[keys[k]] = p;
      lightest.push({w + degrees[k], p});
    }
    return degree_partitioner{n, std::move(map), salt};
  }
};

/// Consistent hashing: each partition owns `vnodes` points on a 64-bit ring; a key goes
/// to the first point at or after its hash. Adding partition n keeps every existing point,
/// so only the keys the new points capture move: about 1/(n+1) of them.
struct consistent_hash_partitioner {
  std::size_t n = 1;
  std::size_t vnodes = 128;
  std::uint64_t seed = 0;
  std::shared_ptr<const std::vector<std::pair<std::uint64_t, std::uint32_t>>> ring;

  /// A ring of `n` partitions with `vnodes` points each.
  static consistent_hash_partitioner make(std::size_t n, std::size_t vnodes = 128,
                                          std::uint64_t seed = 0) {
    auto r = std::make_shared<std::vector<std::pair<std::uint64_t, std::uint32_t>>>();
    r->reserve(n * vnodes);
    for (std::uint32_t p = 0; p < n; ++p)
      for (std::size_t v = 0; v < vnodes; ++v)
        r->push_back({mix_key(static_cast<std::int64_t>((std::uint64_t{p} << 32) | v),
                              seed ^ 0xc0ffee),
                      p});
    std::sort(r->begin(), r->end());
    return consistent_hash_partitioner{n, vnodes, seed, std::move(r)};
  }
  std::size_t operator()(std::int64_t key) const noexcept {
    if (!ring || ring->empty())
      return 0;
    auto h = mix_key(key, seed);
    auto it = std::lower_bound(ring->begin(), ring->end(), std::pair{h, std::uint32_t{0}});
    return (it == ring->end() ? ring->front() : *it).second;
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "consistent"; }
};

/// A partitioner of ratings: maps (user, item) to a partition in [0, partitions()).
template <class P>
concept rating_partitioner =
  std::copy_constructible<P> && requires(const P& p, std::int64_t user, std::int64_t item) {
    { p(user, item) } -> std::convertible_to<std::size_t>;
    { p.partitions() } -> std::convertible_to<std::size_t>;
    { p.name() } -> std::convertible_to<std::string>;
  };

/// The 2-D grid (LibMF, DSGD): users hashed into `rows` blocks, items into `cols`
/// blocks; rating (u, i) goes to block (row(u), col(i)), one of rows*cols partitions.
/// Each block needs the user rows of its row block and the item rows of its column
/// block; a user is *owned* by one block of its row (chosen by a second hash), an item
/// by one block of its column.
struct grid_partitioner {
  std::size_t rows = 1, cols = 1;
  std::uint64_t salt = 0;

  /// The most square grid with rows*cols = n and rows >= cols (n = 8: 4 x 2).
  static grid_partitioner square(std::size_t n, std::uint64_t salt = 0) {
    std::size_t c = 1;
    for (std::size_t d = 1; d * d <= n; ++d)
      if (n % d == 0)
        c = d;
    return grid_partitioner{n / c, c, salt};
  }
  std::size_t row_of(std::int64_t user) const noexcept { return hash_partitioner{rows, salt}(user); }
  std::size_t col_of(std::int64_t item) const noexcept {
    return hash_partitioner{cols, salt ^ 0x51ed}(item);
  }
  std::size_t operator()(std::int64_t user, std::int64_t item) const noexcept {
    return row_of(user) * cols + col_of(item);
  }
  /// The block owning `user`'s factors (in its row) and `item`'s (in its column).
  std::size_t user_owner(std::int64_t user) const noexcept {
    return row_of(user) * cols + hash_partitioner{cols, salt ^ 0xa11}(user);
  }
  std::size_t item_owner(std::int64_t item) const noexcept {
    return hash_partitioner{rows, salt ^ 0xb22}(item) * cols + col_of(item);
  }
  std::size_t partitions() const noexcept { return rows * cols; }
  std::string name() const { return "grid"; }
};

static_assert(key_partitioner<range_partitioner>);
static_assert(key_partitioner<random_partitioner>);
static_assert(key_partitioner<degree_partitioner>);
static_assert(key_partitioner<consistent_hash_partitioner>);
static_assert(rating_partitioner<grid_partitioner>);

}  // namespace recflow
