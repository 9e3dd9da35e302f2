/// A seeded synthetic rating stream with power-law (Zipf) user and item degrees, for
/// partitioning studies: a few users and items carry most of the ratings, as in real data.
///
///   power_law_generator gen(power_law_params::for_ratings(10'000'000));
///   std::vector<rating> batch;
///   while (gen.next(batch, 10'000)) { ... }   // 10M ratings, never more than a batch held
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// What the stream looks like. The k-th most active user (k = 0, 1, ...) is drawn with
/// weight (k+1)^-user_exponent, likewise items; the ranks are scattered over the dense
/// indices by a seeded permutation, so activity does not follow id order. External ids
/// are index + 1. (user, item) pairs may repeat; values are (nearly) uniform in 1..5.
struct power_law_params {
  std::uint32_t users = 50'000;
  std::uint32_t items = 5'000;
  std::uint64_t ratings = 1'000'000;
  double user_exponent = 0.7;  ///< Zipf exponent of user degrees (0 = uniform)
  double item_exponent = 0.8;  ///< Zipf exponent of item degrees
  std::uint64_t seed = 42;

  /// The default shape for `n` ratings: n/20 users, n/200 items (at least 10 each).
  static power_law_params for_ratings(std::uint64_t n, std::uint64_t seed = 42);
};

/// "users must be positive, got 0" and friends.
result<void> validate(const power_law_params& p);

/// Generates the stream batch by batch (alias tables: O(1) per rating; memory is the two
/// tables, 12 bytes per user and per item, plus the caller's batch).
class power_law_generator {
 public:
  /// `p` must pass validate().
  explicit power_law_generator(const power_law_params& p);

  /// Replaces `out` with the next at most `n` ratings (timestamps count from 1); false
  /// (and `out` empty) once all ratings were produced.
  bool next(std::vector<rating>& out, std::size_t n);
  /// Starts the same stream again from the first rating.
  void restart();

  const power_law_params& params() const noexcept { return p_; }
  /// Maps with external ids 1..users and 1..items (dense index = id - 1).
  id_map user_ids() const;
  id_map item_ids() const;

 private:
  struct alias_table {
    std::vector<float> prob;
    std::vector<std::uint32_t> alias;
    std::vector<std::uint32_t> index_of_rank;  ///< the scatter permutation
    void build(std::uint32_t n, double exponent, std::uint64_t seed);
    std::uint32_t draw(std::uint64_t r) const noexcept;
  };
  power_law_params p_;
  alias_table users_, items_;
  std::uint64_t produced_ = 0;
  std::uint64_t state_ = 0;
};

/// The whole stream as a table (for small sets and tests).
rating_table power_law_table(const power_law_params& p);

}  // namespace recflow
