#include "actors/factor_owner.hpp"

namespace recflow {

std::uint32_t shard_store::touch(std::int64_t id, std::uint64_t first_seen) {
  auto before = ids_.size();
  auto k = ids_.insert(id);
  if (k == before) {
    bias_.push_back(0.0);
    count_.push_back(0);
    first_seen_.push_back(first_seen);
    factors_.resize(factors_.size() + std::size_t(rank_));
    initial_factors(seed_, side_, id, init_stddev_, {row(k), std::size_t(rank_)});
  }
  return k;
}

shard_parts shard_store::export_parts(std::uint64_t batch, std::uint32_t shard) const {
  shard_parts p;
  p.batch = batch;
  p.side = static_cast<std::uint8_t>(side_);
  p.shard = shard;
  p.ids = ids_.externals();
  p.first_seen = first_seen_;
  p.counts = count_;
  p.bias = bias_;
  p.factors = factors_;
  return p;
}

}  // namespace recflow
