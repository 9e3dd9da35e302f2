#include "recflow/actors/aggregator.hpp"

#include <algorithm>

namespace recflow {

void gradient_sums::reset(int rank) {
  rank_ = rank;
  for (auto k : keys_)
    slot_of_[k] = id_map::npos;
  keys_.clear();
  n_.clear();
  bias_.clear();
  factors_.clear();
  g_bias_.clear();
  g_factors_.clear();
}

std::uint32_t gradient_sums::slot(std::uint32_t key, const shard_store& store) {
  if (key >= slot_of_.size())
    slot_of_.resize(std::size_t(key) + 1 + slot_of_.size() / 2, id_map::npos);
  auto& s = slot_of_[key];
  if (s == id_map::npos) {
    s = static_cast<std::uint32_t>(keys_.size());
    keys_.push_back(key);
    n_.push_back(0.0);
    bias_.push_back(store.bias(key));
    const float* row = store.row(key);
    for (int k = 0; k < rank_; ++k)  // widened: exact
      factors_.push_back(static_cast<double>(row[k]));
    g_bias_.push_back(0.0);
    g_factors_.resize(g_factors_.size() + std::size_t(rank_), 0.0);
  }
  return s;
}

namespace {

/// The steps of `keys` keys (the hot loop; one clone per ISA, see stream_kernel.hpp).
RECFLOW_VECTOR_LOOP void apply_steps(int rank, std::size_t keys, double* bias, double* factors,
                                     double* g_bias, double* g_factors, const double* n,
                                     const stream_kernel::rates& r) {
  auto k = std::size_t(rank);
  stream_kernel::with_rank(rank, [&](const auto& o) {
    for (std::size_t s = 0; s < keys; ++s)
      o.apply_step(bias[s], factors + s * k, g_bias[s], g_factors + s * k, n[s], r);
  });
}

}  // namespace

void gradient_sums::apply(const stream_params& p) {
  apply_steps(rank_, keys_.size(), bias_.data(), factors_.data(), g_bias_.data(),
              g_factors_.data(), n_.data(), rates_of(p));
}

void gradient_sums::write_back(shard_store& store) const {
  auto k = std::size_t(rank_);
  for (std::size_t s = 0; s < keys_.size(); ++s) {
    store.bias(keys_[s]) = bias_[s];
    const double* x = factors_.data() + s * k;
    float* row = store.row(keys_[s]);
    for (std::size_t j = 0; j < k; ++j)  // rounded once, as streaming_trainer does
      row[j] = static_cast<float>(x[j]);
  }
}

}  // namespace recflow
