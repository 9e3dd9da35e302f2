/// The aggregator: sums per-rating gradients by key within a batch, in batch order, and
/// applies each key's sum once per pass. It runs inside the owner of its keys (fused),
/// so per-rating gradient vectors never travel: only factor rows and errors do. Like the
/// reference trainer, it works on dense copies of the touched keys' parameters during a
/// batch and writes them back to the shard once at the end.
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// Per-key working parameters and gradient sums of one batch. Keys are the shard's local
/// indices; slots number the keys the batch touches in order of first touch. The tables
/// keep their rows across batches (sized for the largest batch so far) and the sums are
/// zero between passes (apply clears them), so a batch allocates and clears nothing.
class gradient_sums {
 public:
  /// Forgets the previous batch; room for `max_keys` keys (at most one per rating).
  void reset(int rank, std::size_t max_keys);
  /// Slot of `key`, giving it the next one on first touch (n = 0); call gather() once
  /// every key of the batch has its slot.
  std::uint32_t slot(std::uint32_t key) {
    if (key >= slot_of_.size())
      slot_of_.resize(std::size_t(key) + 1 + slot_of_.size() / 2, id_map::npos);
    auto& s = slot_of_[key];
    if (s == id_map::npos) {
      s = static_cast<std::uint32_t>(keys_.size());
      keys_.push_back(key);
      n_[s] = 0.0;
    }
    return s;
  }
  /// Copies every slot's bias and row from `store` into the working set.
  void gather(const shard_store& store);
  /// Counts one rating of the slot's key (n, the step's regularisation multiplier).
  void count_rating(std::uint32_t s) noexcept { n_[s] += 1.0; }
  /// One rating's contribution: g_b += e, g_x += e * x (with the kernels `o`, see
  /// stream_kernel::with_rank).
  template <class Ops>
  void add(const Ops& o, std::uint32_t s, double e, const float* x) noexcept {
    g_bias_[s] += e;
    o.accumulate(g_factors_.data() + std::size_t(s) * rank_, e, x);
  }
  /// Applies each touched key's summed step to its working copy and clears the sums.
  void apply(const stream_params& p);
  /// Copies the working parameters back into `store` (end of batch).
  void write_back(shard_store& store) const;

  std::uint32_t key(std::uint32_t s) const noexcept { return keys_[s]; }
  std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(keys_.size()); }
  double ratings_of(std::uint32_t s) const noexcept { return n_[s]; }
  double bias(std::uint32_t s) const noexcept { return bias_[s]; }
  const float* row(std::uint32_t s) const noexcept {
    return factors_.data() + std::size_t(s) * rank_;
  }
  /// The working set, by slot (what rows messages point into).
  const double* bias_data() const noexcept { return bias_.data(); }
  const float* factor_data() const noexcept { return factors_.data(); }
  double bias_sum(std::uint32_t s) const noexcept { return g_bias_[s]; }
  const float* factor_sum(std::uint32_t s) const noexcept {
    return g_factors_.data() + std::size_t(s) * rank_;
  }

 private:
  int rank_ = 0;
  std::vector<std::uint32_t> slot_of_;  ///< key -> slot, npos when untouched
  std::vector<std::uint32_t> keys_;
  // Sized for the largest batch so far; growing_array grows them without a second copy.
  growing_array<double> n_, bias_;
  growing_array<float> factors_;  ///< rank floats per slot
  growing_array<double> g_bias_;
  growing_array<float> g_factors_;  ///< factor gradient sums, rank floats per slot
};

}  // namespace recflow
