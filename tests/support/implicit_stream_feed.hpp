// Streams of events for the streaming implicit ALS tests (graph, cluster): a random stream
// and a feeder that applies it in batches.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/random.hpp"

namespace recflow::test {

/// `n` events of `users` users (ids from 100) on `items` items (ids 7000, 7003, ...),
/// weights 1..3, drawn with `seed`; stamps 0 (apply sets them).
inline std::vector<stamped_event> random_stream(std::size_t n, std::uint64_t seed = 5,
                                                std::uint64_t users = 80,
                                                std::uint64_t items = 50) {
  std::vector<stamped_event> out;
  splitmix64 rng(seed);
  for (std::size_t j = 0; j < n; ++j)
    out.push_back({std::int64_t(100 + rng.below(users)), std::int64_t(7000 + 3 * rng.below(items)),
                   float(1 + rng.below(3)), 0});
  return out;
}

/// Streams `events` in batches of `size` through `u` (copies: apply sets the stamps);
/// REQUIREs every batch to apply.
inline void feed(implicit_stream_updater& u, const std::vector<stamped_event>& events,
                 std::size_t size) {
  for (std::size_t b = 0; b < events.size(); b += size) {
    std::vector<stamped_event> batch(events.begin() + std::ptrdiff_t(b),
                                     events.begin() + std::ptrdiff_t(std::min(events.size(), b + size)));
    auto ok = u.apply(batch);
    INFO((ok ? std::string() : ok.err().message));
    REQUIRE(ok);
  }
}

}  // namespace recflow::test
