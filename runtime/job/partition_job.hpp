/// The partitioning simulation as `recflow partitions` runs it: strategies and partition
/// counts parsed, the ratings read once for their degrees and once in batches for the
/// costs (a file in memory, or the power-law stream regenerated per pass so that 10M
/// ratings never sit in memory), and the keys each plan moves when a partition is added.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recflow/graph/partition_cost.hpp"
#include "recflow/model/power_law.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// "2,4,8,16" as counts in 1..4096.
result<std::vector<std::size_t>> parse_partition_counts(const std::string& text);

/// "all" or a comma-separated list of partition_strategies().
result<std::vector<std::string>> parse_partition_strategies(const std::string& text);

/// The ratings to simulate: a table, or a power-law stream.
struct partition_data {
  std::string name;  ///< for people: what the ratings are
  id_map users, items;
  std::optional<rating_table> table;
  std::optional<power_law_generator> synthetic;

  /// A rating file read whole (`file` names it).
  static partition_data from_table(rating_table t, const std::string& file);
  /// N power-law ratings (power_law_params::for_ratings), seeded.
  static result<partition_data> synthetic_ratings(std::uint64_t n, std::uint64_t seed);

  /// Calls f(span) for every batch of `size` ratings, in stream order.
  template <class F>
  void for_each_batch(std::size_t size, F&& f) {
    if (table) {
      std::span<const rating> all(table->ratings);
      for (std::size_t at = 0; at < all.size(); at += size)
        f(all.subspan(at, std::min(size, all.size() - at)));
      return;
    }
    std::vector<rating> b;
    synthetic->restart();
    while (synthetic->next(b, size))
      f(std::span<const rating>(b));
  }
  /// The first `n` ratings as a table in the full id space (a measurement's batches).
  rating_table first(std::size_t n);
};

/// Every strategy at every count: its costs over `d` in batches of `batch_size` under
/// `cost`, with the keys it moves from n to n+1 partitions; in counts-major order.
result<std::vector<partition_cost>> simulate_partitions(partition_data& d,
                                                        const std::vector<std::size_t>& counts,
                                                        const std::vector<std::string>& strategies,
                                                        const cost_model& cost,
                                                        std::size_t batch_size);

}  // namespace recflow
