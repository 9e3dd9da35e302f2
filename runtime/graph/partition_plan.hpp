/// Strategies by name, as edge partitioners and as plans for the cost simulation
/// (graph/partition_cost.hpp). Header-only for the same reason as partitioners.hpp.
///
///   hash-user   ratings to the owner of their user; users and items hashed (the default graph)
///   hash-item   ratings to the owner of their item; same hashing
///   range       by user; contiguous id ranges fitted to balance ratings (users and items)
///   random      by user; seeded per-key random owners
///   grid        2-D blocks (user row x item column), rows*cols = n as square as possible
///   degree      by user; greedy by degree, heaviest key onto the lightest partition
///   consistent  by user; consistent hashing, 128 virtual nodes per partition
#pragma once

#include <span>
#include <string>
#include <vector>

#include "recflow/graph/partitioners.hpp"
#include "recflow/model/error.hpp"
#include "recflow/graph/partition_cost.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// Every strategy name make_plan accepts, in the order reports list them.
inline const std::vector<std::string>& partition_strategies() {
  static const std::vector<std::string> all{"hash-user", "hash-item", "range",     "random",
                                            "grid",      "degree",    "consistent"};
  return all;
}

/// The salt that keeps the item side's assignment independent of the user side's (the
/// default graph's item edge uses it too).
inline constexpr std::uint64_t item_salt = 0x51ed;

/// One side's partitioner for a single-key strategy over `n` partitions; `keys` and
/// `degrees` (parallel: external ids and ratings per key) fit range and degree. Empty for
/// "grid" (a rating partitioner) and unknown names. Usable on a graph edge as it is.
inline partitioner make_key_partitioner(const std::string& strategy, std::size_t n,
                                        std::span<const std::int64_t> keys,
                                        std::span<const std::uint64_t> degrees,
                                        std::uint64_t salt = 0) {
  if (strategy == "hash-user" || strategy == "hash-item" || strategy == "hash")
    return hash_partitioner{n, salt};
  if (strategy == "range")
    return range_partitioner::fit(keys, degrees, n);
  if (strategy == "random")
    return random_partitioner{n, salt + 1};
  if (strategy == "degree")
    return degree_partitioner::fit(keys, degrees, n, salt);
  if (strategy == "consistent")
    return consistent_hash_partitioner::make(n, 128, salt);
  return {};
}

/// The plan of `strategy` at `n` partitions for a data set with these id maps and
/// per-index degrees; "unknown partitioning strategy 'x'" if the name is not one of
/// partition_strategies().
inline result<partition_plan> make_plan(const std::string& strategy, std::size_t n,
                                        const id_map& users, const id_map& items,
                                        std::span<const std::uint64_t> user_degrees,
                                        std::span<const std::uint64_t> item_degrees) {
  if (n == 0)
    return error{errc::invalid_argument, "partition count must be positive, got 0"};
  partition_plan plan;
  plan.strategy = strategy;
  plan.partitions = n;
  plan.user_owner.resize(users.size());
  plan.item_owner.resize(items.size());
  const auto& ue = users.externals();
  const auto& ie = items.externals();
  if (strategy == "grid") {
    auto g = grid_partitioner::square(n);
    plan.place = placement::grid;
    plan.cols = g.cols;
    plan.user_row.resize(ue.size());
    plan.item_col.resize(ie.size());
    for (std::size_t k = 0; k < ue.size(); ++k) {
      plan.user_row[k] = std::uint32_t(g.row_of(ue[k]));
      plan.user_owner[k] = std::uint32_t(g.user_owner(ue[k]));
    }
    for (std::size_t k = 0; k < ie.size(); ++k) {
      plan.item_col[k] = std::uint32_t(g.col_of(ie[k]));
      plan.item_owner[k] = std::uint32_t(g.item_owner(ie[k]));
    }
    return plan;
  }
  auto by_user = make_key_partitioner(strategy, n, ue, user_degrees, 0);
  auto by_item = make_key_partitioner(strategy, n, ie, item_degrees, item_salt);
  if (!by_user.valid())
    return error{errc::invalid_argument, "unknown partitioning strategy '" + strategy + "'"};
  plan.place = strategy == "hash-item" ? placement::by_item : placement::by_user;
  for (std::size_t k = 0; k < ue.size(); ++k)
    plan.user_owner[k] = std::uint32_t(by_user(ue[k]));
  for (std::size_t k = 0; k < ie.size(); ++k)
    plan.item_owner[k] = std::uint32_t(by_item(ie[k]));
  return plan;
}

}  // namespace recflow
