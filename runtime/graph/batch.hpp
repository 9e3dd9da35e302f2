/// Micro-batches as they flow through a dataflow graph: ratings keyed by external ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recflow/model/ratings.hpp"

namespace recflow {

/// One rating as a stream carries it: external ids, so that any shard can key its own
/// state without a shared id space. 32 bytes.
struct rating_event {
  std::int64_t user = 0;
  std::int64_t item = 0;
  float value = 0.0f;
  std::int64_t timestamp = 0;  ///< seconds since the epoch; 0 when unknown
  friend bool operator==(const rating_event&, const rating_event&) = default;
};

/// A micro-batch: the unit a source emits and the engine trains on, in stream order.
struct rating_batch {
  std::vector<rating_event> ratings;
  /// Where the source stands after this batch, in the source's own terms (a Redis entry
  /// id, "line:N", ...): opaque to the engine, which records it in checkpoints and hands
  /// it back through rating_source::resume_after() and applied(). Empty when the source
  /// has no positions (then a resume skips the ratings already applied; see source.hpp).
  std::string position{};
  std::size_t size() const noexcept { return ratings.size(); }
  bool empty() const noexcept { return ratings.empty(); }
  friend bool operator==(const rating_batch&, const rating_batch&) = default;
};

/// The events of `rs`, whose dense indices live in (`users`, `items`), as external ids.
rating_batch to_batch(std::span<const rating> rs, const id_map& users, const id_map& items);

/// Folds `b` into a running mean exactly as `factor_model::observe_mean` does (same
/// summation order and formula, so the result is bit-identical): returns the new mean;
/// `count` is updated in place.
double fold_mean(double mu, std::uint64_t& count, const rating_batch& b) noexcept;

}  // namespace recflow
