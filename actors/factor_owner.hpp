/// The storage of a factor owner: one shard of one side of the model (the users or the
/// items a partition owns), keyed by external id. Shared by user and item owners.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/actors/messages.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/growing_array.hpp"
#include "recflow/model/id_map.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// A shard's tables as spans, read where they are: a shard_store's own (columns()) or a
/// copy exported as shard_parts (columns(parts)). What a snapshot assembles a model from.
struct shard_columns {
  std::uint32_t shard = 0;
  std::span<const std::int64_t> ids;
  std::span<const std::uint64_t> first_seen;  ///< stream position of each key's first rating
  std::span<const std::uint32_t> counts;
  std::span<const double> bias;
  std::span<const float> factors;  ///< rank floats per key
};

/// `p`'s tables (shard_parts in messages.hpp).
shard_columns columns(const shard_parts& p) noexcept;
/// The tables of the stores `views` point at (valid while their owners hold).
std::vector<shard_columns> columns(const std::vector<shard_view>& views);

/// One shard of U (or P) with its biases and counts. A new key gets bias 0, count 0 and
/// `initial_factors(seed, side, id, init_stddev)`, exactly as factor_model::add_user /
/// add_item, so any shard creates it identically.
class shard_store {
 public:
  shard_store() = default;
  shard_store(side s, int rank, std::uint64_t seed, double init_stddev)
    : side_(s), rank_(rank), seed_(seed), init_stddev_(init_stddev) {}

  /// Local index of `id`, adding the key if new; `first_seen` is its stream position. The
  /// key is stamped with the current version (changed()).
  std::uint32_t touch(std::int64_t id, std::uint64_t first_seen);
  /// Starts a batch: the keys touched from now on are stamped with a new version, so an
  /// evaluator can tell the rows a batch may have changed from those it cannot have
  /// (actors/shard_eval.hpp).
  void begin_batch() noexcept { ++version_; }
  /// Batches begun so far.
  std::uint32_t version() const noexcept { return version_; }
  /// The version of the last batch that touched key k (0: none; a seed's keys).
  std::uint32_t changed(std::uint32_t k) const noexcept { return changed_[k]; }

  int rank() const noexcept { return rank_; }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(externals_.size()); }
  std::int64_t id(std::uint32_t k) const noexcept { return externals_[k]; }
  double& bias(std::uint32_t k) noexcept { return bias_[k]; }
  double bias(std::uint32_t k) const noexcept { return bias_[k]; }
  /// The key's factors: rank floats (see factor_table on precision).
  float* row(std::uint32_t k) noexcept { return factors_.data() + std::size_t(k) * rank_; }
  const float* row(std::uint32_t k) const noexcept {
    return factors_.data() + std::size_t(k) * rank_;
  }
  /// Every key's bias and factors, by local index (rank floats per key).
  double* bias_data() noexcept { return bias_.data(); }
  const double* bias_data() const noexcept { return bias_.data(); }
  float* factor_data() noexcept { return factors_.data(); }
  const float* factor_data() const noexcept { return factors_.data(); }
  std::uint32_t& count(std::uint32_t k) noexcept { return count_[k]; }
  std::uint32_t count(std::uint32_t k) const noexcept { return count_[k]; }
  /// Local index of `id`, or id_map::npos if the shard does not hold it (no insertion).
  std::uint32_t find(std::int64_t id) const;

  /// Loads a seed model's keys (before any batch): each key of `parts` with its bias,
  /// count, factors and first_seen; keys added later by touch() are placed after
  /// `key_base`. Fails on a non-empty store, a duplicate key or sizes that disagree.
  result<void> load(const shard_parts& parts, std::uint64_t key_base);

  /// Every key's parameters, in local order, as a snapshot part.
  shard_parts export_parts(std::uint64_t batch, std::uint32_t shard) const;
  /// The same tables in place (valid while the store does not change), as shard `shard`.
  shard_columns columns(std::uint32_t shard) const noexcept {
    return {shard,
            {externals_.data(), externals_.size()},
            {first_seen_.data(), first_seen_.size()},
            {count_.data(), count_.size()},
            {bias_.data(), bias_.size()},
            {factors_.data(), factors_.size()}};
  }

 private:
  side side_ = side::user;
  int rank_ = 0;
  std::uint64_t seed_ = 0;
  double init_stddev_ = 0.0;
  /// Ids below this bound are found through `direct_` (one array read) instead of the
  /// hash map: MovieLens-style ids are small integers.
  static constexpr std::int64_t direct_bound = std::int64_t(1) << 24;
  std::uint32_t add(std::int64_t id, std::uint64_t first_seen);

  std::uint64_t key_base_ = 0;  ///< added to the first_seen of keys the stream adds

  std::vector<std::uint32_t> direct_;  ///< id -> local index (npos if absent), small ids
  id_map large_;                       ///< other ids -> position in `large_keys_`
  std::vector<std::uint32_t> large_keys_;
  // The tables grow for as long as the stream brings new keys: growing_array grows them
  // without a second copy (a vector's reallocation would hold two at its peak).
  growing_array<std::int64_t> externals_;  ///< local index -> external id
  growing_array<double> bias_;
  growing_array<float> factors_;
  growing_array<std::uint32_t> count_;
  growing_array<std::uint64_t> first_seen_;
  growing_array<std::uint32_t> changed_;  ///< version of the batch that last touched the key
  std::uint32_t version_ = 0;
};

}  // namespace recflow
