/// Ratings, rating scales, and the table that ingest produces.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/id_map.hpp"

namespace recflow {

/// Dense index of a user or an item (0 .. n-1); see `id_map` for external ids.
using index_t = std::uint32_t;

/// One rating with dense user and item indices. 24 bytes.
struct rating {
  index_t user = 0;
  index_t item = 0;
  float value = 0.0f;
  std::int64_t timestamp = 0;  ///< seconds since the epoch; 0 when the input has none
};

/// The closed interval of valid ratings. Predictions are clamped to it; ingest rejects
/// ratings outside it.
struct rating_scale {
  double min = 1.0;
  double max = 5.0;
  bool contains(double v) const noexcept { return v >= min && v <= max; }
  double clamp(double v) const noexcept { return v < min ? min : (v > max ? max : v); }
};

/// Ratings plus the maps from external user/item ids to the dense indices they use.
struct rating_table {
  std::vector<rating> ratings;
  id_map users;
  id_map items;
  rating_scale scale;

  std::size_t size() const noexcept { return ratings.size(); }
  /// Same ids and scale, with the given ratings (used to build splits).
  rating_table with_ratings(std::vector<rating> rs) const {
    return rating_table{std::move(rs), users, items, scale};
  }
};

/// Checks that every rating of `t` names a user and an item of its id maps and has a
/// finite value (errc::invalid_value naming the first that does not).
result<void> check_ratings(const rating_table& t);

/// Mean of the ratings (0 for none).
double mean_rating(std::span<const rating> rs) noexcept;

}  // namespace recflow
