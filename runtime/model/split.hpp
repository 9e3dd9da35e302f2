/// Seeded train/test splits: random fraction, k-fold, leave-latest-out, and order for
/// streaming.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/ratings.hpp"

namespace recflow {

/// Ratings divided into a training part and a held-out part.
struct split_ratings {
  std::vector<rating> train;
  std::vector<rating> test;
};

/// A seeded random split: each rating goes to train with probability `train_fraction`
/// (exactly round(n * fraction) ratings go to train). Same seed, same split.
split_ratings random_split(std::span<const rating> rs, double train_fraction,
                           std::uint64_t seed);

/// Fold `fold` (0-based) of a seeded k-fold partition: that fold is the test part.
split_ratings k_fold(std::span<const rating> rs, int k, int fold, std::uint64_t seed);

/// Leave-one-out, as the NCF paper (He et al. 2017) holds out: for every user with at
/// least two ratings (or events), the latest by timestamp goes to test and the rest to
/// train; among several at the latest timestamp (all of them, in a file without
/// timestamps) one is picked at random, seeded by `seed` and the user's index. A user
/// with a single rating keeps it in train. Train keeps the input order.
split_ratings leave_latest_out(std::span<const rating> rs, std::uint64_t seed);

/// A split in time: the earliest round(n * train_fraction) ratings by timestamp train, the
/// later ones test (ties keep their input order: a stable sort). Both parts in time order.
/// What a model trained until some moment faces next, for implicit feedback's full-ranking
/// metrics.
split_ratings time_split(std::span<const rating> rs, double train_fraction);

/// Order in which a stream presents ratings.
enum class stream_order { random, time };

/// Reorders `rs` in place: a seeded shuffle, or a stable sort by timestamp.
void order_ratings(std::vector<rating>& rs, stream_order order, std::uint64_t seed);

}  // namespace recflow
