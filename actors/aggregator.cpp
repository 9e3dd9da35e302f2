#include "actors/aggregator.hpp"

namespace recflow {

void gradient_sums::reset(int rank) {
  rank_ = rank;
  for (auto k : keys_)
    slot_of_[k] = id_map::npos;
  keys_.clear();
  n_.clear();
  g_bias_.clear();
  g_factors_.clear();
}

std::uint32_t gradient_sums::slot(std::uint32_t key) {
  if (key >= slot_of_.size())
    slot_of_.resize(std::size_t(key) + 1 + slot_of_.size() / 2, id_map::npos);
  auto& s = slot_of_[key];
  if (s == id_map::npos) {
    s = static_cast<std::uint32_t>(keys_.size());
    keys_.push_back(key);
    n_.push_back(0.0);
    g_bias_.push_back(0.0);
    g_factors_.resize(g_factors_.size() + std::size_t(rank_), 0.0);
  }
  return s;
}

void gradient_sums::apply(shard_store& store, const stream_params& p) {
  for (std::uint32_t s = 0; s < keys_.size(); ++s)
    stream_kernel::apply_step(store.bias(keys_[s]), store.row(keys_[s]), g_bias_[s],
                              g_factors_.data() + std::size_t(s) * rank_, n_[s], rank_, p);
}

}  // namespace recflow
