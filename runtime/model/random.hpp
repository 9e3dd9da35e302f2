/// splitmix64, the one small seeded generator and integer hash recflow uses wherever the
/// numbers must be the same on every platform and standard library (std::
/// distributions are not): initial factors, synthetic streams, hash partitioners, id maps.
///
///   splitmix64 rng(42);
///   double x = rng.normal(0.1);                  // seeded N(0, 0.01)
///   auto shard = splitmix64_hash(user) % shards;  // a well-spread key hash
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace recflow {

/// The generator's increment: 2^64 divided by the golden ratio, odd.
inline constexpr std::uint64_t splitmix64_gamma = 0x9e3779b97f4a7c15ull;

/// The splitmix64 output function: a bijection that mixes every input bit into every
/// output bit.
constexpr std::uint64_t splitmix64_mix(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Advances `state` by the increment and returns the mix of the new state.
constexpr std::uint64_t splitmix64_next(std::uint64_t& state) noexcept {
  return splitmix64_mix(state += splitmix64_gamma);
}

/// A hash of an integer key: the first output of a generator seeded with `key`.
constexpr std::uint64_t splitmix64_hash(std::uint64_t key) noexcept {
  return splitmix64_mix(key + splitmix64_gamma);
}

/// 64 random bits as a double in (0, 1): the top 53 bits, offset by half a step, so
/// neither 0 nor 1 (log() of it is finite).
constexpr double unit_open(std::uint64_t bits) noexcept {
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

/// A seeded splitmix64 generator with the draws the code needs.
class splitmix64 {
 public:
  explicit constexpr splitmix64(std::uint64_t seed) noexcept : state_(seed) {}

  constexpr std::uint64_t next() noexcept { return splitmix64_next(state_); }
  /// Uniform in (0, 1).
  constexpr double uniform() noexcept { return unit_open(next()); }
  /// N(0, stddev^2), Box-Muller from two uniforms (the radius's first).
  double normal(double stddev = 1.0) noexcept {
    double r = std::sqrt(-2.0 * std::log(uniform()));
    return stddev * r * std::cos(2.0 * std::numbers::pi * uniform());
  }
  /// Uniform in [0, n) (n > 0; modulo bias below 2^-32 for n < 2^32).
  constexpr std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>(next() % n);
  }

 private:
  std::uint64_t state_;
};

}  // namespace recflow
