#include "recflow/actors/aggregator.hpp"

#include <algorithm>

namespace recflow {

void gradient_sums::reset(int rank, std::size_t max_keys, bool two_rows) {
  for (auto k : keys_)
    slot_of_[k] = id_map::npos;
  keys_.clear();
  if (rank != rank_) {
    rank_ = rank;
    n_.clear();
    bias_.clear();
    factors_.clear();
    next_.clear();
    g_row_.assign(std::size_t(rank), 0.0f);
  }
  const auto k = std::size_t(rank_);
  if (n_.size() < max_keys) {
    n_.resize(max_keys);
    bias_.resize(max_keys);
    factors_.resize(max_keys * k);
  }
  if (two_rows && next_.size() < factors_.size())
    next_.resize(factors_.size());
}

void gradient_sums::gather(const shard_store& store) {
  stream_kernel::gather_rows(keys_, std::size_t(rank_), factors_.data(), bias_.data(),
                             store.bias_data(), store.factor_data(), rank_);
}

void gradient_sums::write_back(shard_store& store) const {
  stream_kernel::scatter_rows(keys_, std::size_t(rank_), factors_.data(), bias_.data(),
                              store.bias_data(), store.factor_data(), rank_);
}

}  // namespace recflow
