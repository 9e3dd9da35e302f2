/// The aggregator: sums per-rating gradients by key within a batch, in batch order, and
/// applies each key's sum once per pass. It runs inside the owner of its keys (fused),
/// so per-rating gradient vectors never travel: only factor rows and errors do.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/factor_owner.hpp"
#include "model/streaming.hpp"

namespace recflow {

/// Per-key gradient sums of one batch. Keys are the shard's local indices; slots number
/// the keys the batch touches in order of first touch.
class gradient_sums {
 public:
  /// Forgets the previous batch (keeps capacity).
  void reset(int rank);
  /// Slot of `key`, adding it with n = 0 on first touch.
  std::uint32_t slot(std::uint32_t key);
  /// Counts one rating of the slot's key (n, the step's regularisation multiplier).
  void count_rating(std::uint32_t s) noexcept { n_[s] += 1.0; }
  /// One rating's contribution: g_b += e, g_x += e * x.
  void add(std::uint32_t s, double e, const double* x) noexcept {
    g_bias_[s] += e;
    stream_kernel::accumulate(g_factors_.data() + std::size_t(s) * rank_, e, x, rank_);
  }
  /// Applies each touched key's summed step to `store` (stream_kernel::apply_step) and
  /// clears the sums for the next pass.
  void apply(shard_store& store, const stream_params& p);

  std::uint32_t key(std::uint32_t s) const noexcept { return keys_[s]; }
  std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(keys_.size()); }
  double ratings_of(std::uint32_t s) const noexcept { return n_[s]; }
  double bias_sum(std::uint32_t s) const noexcept { return g_bias_[s]; }
  const double* factor_sum(std::uint32_t s) const noexcept {
    return g_factors_.data() + std::size_t(s) * rank_;
  }

 private:
  int rank_ = 0;
  std::vector<std::uint32_t> slot_of_;  ///< key -> slot, npos when untouched
  std::vector<std::uint32_t> keys_;
  std::vector<double> n_, g_bias_, g_factors_;
};

}  // namespace recflow
