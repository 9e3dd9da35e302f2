#include "actors/factor_owner.hpp"

#include <algorithm>

namespace recflow {

std::uint32_t shard_store::touch(std::int64_t id, std::uint64_t first_seen) {
  if (id >= 0 && id < direct_bound) {
    auto at = static_cast<std::size_t>(id);
    if (at >= direct_.size())
      direct_.resize(std::max(at + 1, direct_.size() * 2), id_map::npos);
    if (direct_[at] == id_map::npos)
      direct_[at] = add(id, first_seen);
    return direct_[at];
  }
  auto before = large_.size();
  auto pos = large_.insert(id);
  if (pos == before)
    large_keys_.push_back(add(id, first_seen));
  return large_keys_[pos];
}

std::uint32_t shard_store::add(std::int64_t id, std::uint64_t first_seen) {
  auto k = static_cast<std::uint32_t>(externals_.size());
  externals_.push_back(id);
  bias_.push_back(0.0);
  count_.push_back(0);
  first_seen_.push_back(first_seen);
  factors_.resize(factors_.size() + std::size_t(rank_));
  initial_factors(seed_, side_, id, init_stddev_, {row(k), std::size_t(rank_)});
  return k;
}

shard_parts shard_store::export_parts(std::uint64_t batch, std::uint32_t shard) const {
  shard_parts p;
  p.batch = batch;
  p.side = static_cast<std::uint8_t>(side_);
  p.shard = shard;
  p.ids = externals_;
  p.first_seen = first_seen_;
  p.counts = count_;
  p.bias = bias_;
  p.factors = factors_;
  return p;
}

}  // namespace recflow
