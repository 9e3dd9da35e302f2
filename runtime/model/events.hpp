/// Implicit feedback as data: events (user, item, weight, timestamp) held in `rating`s,
/// the weight in `rating::value`.
#pragma once

#include <span>
#include <vector>

#include "recflow/model/ratings.hpp"

namespace recflow {

/// Adds up repeated events: one event per (user, item) pair, its weight the sum of the
/// pair's weights and its timestamp the latest of theirs. The result is sorted by user,
/// then item.
std::vector<rating> merge_events(std::span<const rating> events);

/// Ratings turned into events: each rating >= `threshold` becomes an event of weight 1
/// with the rating's timestamp; the others are dropped (a rating below the threshold says
/// nothing positive). Repeated pairs are left for merge_events.
std::vector<rating> events_from_ratings(std::span<const rating> ratings, double threshold);

}  // namespace recflow
