// A planted implicit data set the implicit tests share: 3 groups of 20 users; group g
// likes items 10g .. 10g+9 (ids 1000 + ...) and has events on 6 of them (seeded), weights
// 1..3. A user's true top items are the 4 unseen items of its group.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "recflow/model/random.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow::test {

struct planted_groups {
  rating_table table;
  static constexpr int groups = 3, users_per_group = 20, items_per_group = 10, seen = 6;
};

inline planted_groups make_planted_groups() {
  planted_groups d;
  splitmix64 rng(7);
  for (std::int64_t i = 0; i < planted_groups::groups * planted_groups::items_per_group; ++i)
    d.table.items.insert(1000 + i);
  for (int g = 0; g < planted_groups::groups; ++g)
    for (int k = 0; k < planted_groups::users_per_group; ++k) {
      auto u = d.table.users.insert(g * planted_groups::users_per_group + k);
      std::vector<int> block(planted_groups::items_per_group);
      for (int j = 0; j < planted_groups::items_per_group; ++j)
        block[static_cast<std::size_t>(j)] = g * planted_groups::items_per_group + j;
      for (int j = 0; j < planted_groups::seen; ++j) {  // a seeded partial shuffle
        auto pick = j + static_cast<int>(rng.below(
                          static_cast<std::uint32_t>(planted_groups::items_per_group - j)));
        std::swap(block[static_cast<std::size_t>(j)], block[static_cast<std::size_t>(pick)]);
        d.table.ratings.push_back({u, static_cast<index_t>(block[static_cast<std::size_t>(j)]),
                                   static_cast<float>(1 + rng.below(3)), 0});
      }
    }
  return d;
}

}  // namespace recflow::test
