#include "recflow/actors/factor_owner.hpp"

#include <algorithm>
#include <cmath>

namespace recflow {

std::uint32_t shard_store::touch(std::int64_t id, std::uint64_t first_seen) {
  first_seen += key_base_;
  if (id >= 0 && id < direct_bound) {
    auto at = static_cast<std::size_t>(id);
    if (at >= direct_.size())
      direct_.resize(std::max(at + 1, direct_.size() * 2), id_map::npos);
    if (direct_[at] == id_map::npos)
      direct_[at] = add(id, first_seen);
    changed_[direct_[at]] = version_;
    return direct_[at];
  }
  auto before = large_.size();
  auto pos = large_.insert(id);
  if (pos == before)
    large_keys_.push_back(add(id, first_seen));
  changed_[large_keys_[pos]] = version_;
  return large_keys_[pos];
}

std::uint32_t shard_store::add(std::int64_t id, std::uint64_t first_seen) {
  auto k = static_cast<std::uint32_t>(externals_.size());
  externals_.push_back(id);
  bias_.push_back(0.0);
  count_.push_back(0);
  first_seen_.push_back(first_seen);
  changed_.push_back(version_);
  factors_.resize(factors_.size() + std::size_t(rank_));
  initial_factors(seed_, side_, id, init_stddev_, {row(k), std::size_t(rank_)});
  return k;
}

std::uint32_t shard_store::find(std::int64_t id) const {
  if (id >= 0 && id < direct_bound) {
    auto at = static_cast<std::size_t>(id);
    return at < direct_.size() ? direct_[at] : id_map::npos;
  }
  auto pos = large_.find(id);
  return pos == id_map::npos ? id_map::npos : large_keys_[pos];
}

result<void> shard_store::load(const shard_parts& p, std::uint64_t key_base) {
  auto n = p.ids.size();
  auto k = std::size_t(rank_);
  if (size() != 0)
    return error{errc::invalid_argument, "a seed model must be loaded before the first batch"};
  if (p.first_seen.size() != n || p.counts.size() != n || p.bias.size() != n
      || p.factors.size() != n * k)
    return error{errc::invalid_argument,
                 "seed shard sizes disagree: " + std::to_string(n) + " ids, "
                   + std::to_string(p.factors.size()) + " factor values at rank "
                   + std::to_string(rank_)};
  auto finite = [](auto x) { return std::isfinite(x); };
  if (!std::all_of(p.bias.begin(), p.bias.end(), finite)
      || !std::all_of(p.factors.begin(), p.factors.end(), finite))
    return error{errc::invalid_argument, "seed shard holds NaN or infinity"};
  for (std::size_t j = 0; j < n; ++j) {
    if (find(p.ids[j]) != id_map::npos)
      return error{errc::invalid_argument,
                   "seed shard lists id " + std::to_string(p.ids[j]) + " twice"};
    auto key = touch(p.ids[j], 0);  // key_base_ is still 0: first_seen fixed below
    first_seen_[key] = p.first_seen[j];
    bias_[key] = p.bias[j];
    count_[key] = p.counts[j];
    std::copy_n(p.factors.begin() + static_cast<std::ptrdiff_t>(j * k), k, row(key));
  }
  key_base_ = key_base;
  return {};
}

shard_columns columns(const shard_parts& p) noexcept {
  return {p.shard, p.ids, p.first_seen, p.counts, p.bias, p.factors};
}

std::vector<shard_columns> columns(const std::vector<shard_view>& views) {
  std::vector<shard_columns> out;
  out.reserve(views.size());
  for (const auto& v : views)
    out.push_back(v.store->columns(v.shard));
  return out;
}

shard_parts shard_store::export_parts(std::uint64_t batch, std::uint32_t shard) const {
  shard_parts p;
  p.batch = batch;
  p.side = side_;
  p.shard = shard;
  p.ids.assign(externals_.begin(), externals_.end());
  p.first_seen.assign(first_seen_.begin(), first_seen_.end());
  p.counts.assign(count_.begin(), count_.end());
  p.bias.assign(bias_.begin(), bias_.end());
  p.factors.assign(factors_.begin(), factors_.end());
  return p;
}

}  // namespace recflow
