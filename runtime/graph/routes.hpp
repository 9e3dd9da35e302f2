/// What a micro-batch looks like once the partition step has routed it: the stamp every
/// message of a batch carries and one rating as the owner of its user (or item) sees it.
/// Plain data (no CAF): the actors' messages and the wire format both use these.
#pragma once

#include <cstdint>

namespace recflow {

/// What every message of one batch carries: its number, where it starts in the stream,
/// and the global mean after folding it in (computed once, by the coordinator).
struct batch_stamp {
  std::uint64_t batch = 0;     ///< 0-based batch number
  std::uint64_t offset = 0;    ///< ratings streamed before this batch
  double mu = 0.0;             ///< global mean including this batch
  std::uint64_t mu_count = 0;  ///< ratings the mean averages
  bool snapshot = false;       ///< owners export their shard after this batch
  friend bool operator==(const batch_stamp&, const batch_stamp&) = default;
};

/// One rating as the owner of its user sees it (batch order is kept).
struct user_route {
  std::int64_t user = 0;
  std::uint32_t pos = 0;         ///< position in the batch
  std::uint32_t item_shard = 0;  ///< owner of the rating's item
  friend bool operator==(const user_route&, const user_route&) = default;
};

/// One rating as the owner of its item sees it (batch order is kept).
struct item_route {
  std::int64_t item = 0;
  float value = 0.0f;
  std::uint32_t pos = 0;
  std::uint32_t user_shard = 0;
  friend bool operator==(const item_route&, const item_route&) = default;
};

}  // namespace recflow
