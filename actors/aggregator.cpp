#include "recflow/actors/aggregator.hpp"

#include <algorithm>

namespace recflow {

void gradient_sums::reset(int rank, std::size_t max_keys) {
  for (auto k : keys_)
    slot_of_[k] = id_map::npos;
  keys_.clear();
  if (rank != rank_) {
    rank_ = rank;
    n_.clear();
    bias_.clear();
    factors_.clear();
    g_bias_.clear();
    g_factors_.clear();
  }
  if (n_.size() < max_keys) {
    const auto k = std::size_t(rank_);
    n_.resize(max_keys);
    bias_.resize(max_keys);
    factors_.resize(max_keys * k);
    g_bias_.resize(max_keys, 0.0);  // new sums zero; the old ones are zero already
    g_factors_.resize(max_keys * k, 0.0f);
  }
}

namespace {

/// The steps of `keys` keys (the hot loop; one clone per ISA, see stream_kernel.hpp).
RECFLOW_VECTOR_LOOP void apply_steps(int rank, std::size_t keys, double* bias, float* factors,
                                     double* g_bias, float* g_factors, const double* n,
                                     const stream_kernel::rates& r) {
  auto k = std::size_t(rank);
  stream_kernel::with_rank(rank, [&](const auto& o) {
    for (std::size_t s = 0; s < keys; ++s)
      o.apply_step(bias[s], factors + s * k, g_bias[s], g_factors + s * k, n[s], r);
  });
}

}  // namespace

void gradient_sums::gather(const shard_store& store) {
  stream_kernel::gather_rows(keys_, std::size_t(rank_), factors_.data(), bias_.data(),
                             store.bias_data(), store.factor_data(), rank_);
}

void gradient_sums::apply(const stream_params& p) {
  apply_steps(rank_, keys_.size(), bias_.data(), factors_.data(), g_bias_.data(),
              g_factors_.data(), n_.data(), rates_of(p));
}

void gradient_sums::write_back(shard_store& store) const {
  stream_kernel::scatter_rows(keys_, std::size_t(rank_), factors_.data(), bias_.data(),
                              store.bias_data(), store.factor_data(), rank_);
}

}  // namespace recflow
