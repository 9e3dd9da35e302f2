/// The aggregator: sums per-rating gradients by key within a batch, in batch order, and
/// applies each key's sum once per pass, at the key's last rating. It runs inside the owner
/// of its keys (fused), so per-rating gradient vectors never travel: only factor rows and
/// errors do. Like the reference trainer, it works on dense copies of the touched keys'
/// parameters during a batch and writes them back to the shard once at the end.
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/model/stream_kernel.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// Per-key working parameters of one batch. Keys are the shard's local indices; slots
/// number the keys the batch touches in order of first touch. A pass goes through its
/// ratings grouped by slot (block_index::group), sums each key's gradients in a scratch
/// row (sums(), zero between keys) and steps the key at its last rating, so no per-key
/// sums table exists. The tables keep their rows across batches (sized for the largest
/// batch so far), so a batch allocates and clears nothing.
class gradient_sums {
 public:
  /// Forgets the previous batch; room for `max_keys` keys (at most one per rating).
  /// `two_rows`: a second row per slot for step_to.
  void reset(int rank, std::size_t max_keys, bool two_rows = false);
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
  /// The scratch row of one key's factor gradient sum (rank floats, zero between keys):
  /// a pass adds g_x += e * x to it (stream_kernel ops' accumulate) and g_b += e to a
  /// double of its own, then steps the key, which clears both.
  float* sums() noexcept { return g_row_.data(); }
  /// The summed step of slot s, in place (with the kernels `o`, see
  /// stream_kernel::with_rank): clears g_b and g_x.
  template <class Ops>
  void step(const Ops& o, std::uint32_t s, double& g_b, float* g_x,
            const stream_kernel::rates& r) noexcept {
    o.apply_step(bias_[s], factors_.data() + std::size_t(s) * rank_, g_b, g_x, n_[s], r);
  }
  /// The same step with the new row written to next_row(s): the current row stays as it
  /// was for whoever still reads it; swap_rows() makes the new rows current.
  template <class Ops>
  void step_to(const Ops& o, std::uint32_t s, double& g_b, float* g_x,
               const stream_kernel::rates& r) noexcept {
    const auto at = std::size_t(s) * rank_;
    o.apply_step_to(next_.data() + at, bias_[s], factors_.data() + at, g_b, g_x, n_[s], r);
  }
  /// After step_to of every slot: the new rows become the working rows.
  void swap_rows() noexcept { std::swap(factors_, next_); }
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

 private:
  int rank_ = 0;
  std::vector<std::uint32_t> slot_of_;  ///< key -> slot, npos when untouched
  std::vector<std::uint32_t> keys_;
  // Sized for the largest batch so far; growing_array grows them without a second copy.
  growing_array<double> n_, bias_;
  growing_array<float> factors_;  ///< rank floats per slot
  growing_array<float> next_;     ///< with two_rows: step_to's rows, rank floats per slot
  std::vector<float> g_row_;      ///< sums(): one key's factor gradient sum
};

}  // namespace recflow
