/// What a partitioning costs, simulated without training: given where each rating is
/// processed and which partition owns each user's and item's factors, count per batch the
/// ratings each partition gets, the factors it must fetch from other partitions, and the
/// messages and bytes that takes. Pure data (no graph, no threads): the strategies that
/// produce plans live in graph/partition_plan.hpp.
///
/// The traffic model, per micro-batch and per pass:
///   - every rating is routed once from the source to its partition: `rating_bytes`
///     (32, a rating_event) and one message per partition that receives any;
///   - a partition needs the factors of every distinct user and item of its ratings; each
///     one owned elsewhere is *fetched*: its row (rank doubles + the bias) is shipped to
///     the partition and its gradient (same size) shipped back: 2 (rank + 1) 8 bytes;
///   - fetches travel in one message per (needing partition, owner) pair each way: 2
///     messages per pair with at least one fetch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// Where a rating is processed.
enum class placement {
  by_user,  ///< at the owner of its user (users never fetched)
  by_item,  ///< at the owner of its item (items never fetched)
  grid,     ///< at block (row of user, column of item): both may be fetched
};

/// One strategy at one partition count, as arrays over dense indices.
struct partition_plan {
  std::string strategy;
  std::size_t partitions = 1;
  placement place = placement::by_user;
  std::vector<std::uint32_t> user_owner;  ///< owner of each user's factors
  std::vector<std::uint32_t> item_owner;  ///< owner of each item's factors
  std::vector<std::uint32_t> user_row;    ///< grid only: row block of each user
  std::vector<std::uint32_t> item_col;    ///< grid only: column block of each item
  std::size_t cols = 1;                   ///< grid only

  /// The partition that processes `r`.
  std::uint32_t partition_of(const rating& r) const noexcept {
    switch (place) {
      case placement::by_user: return user_owner[r.user];
      case placement::by_item: return item_owner[r.item];
      case placement::grid: return user_row[r.user] * std::uint32_t(cols) + item_col[r.item];
    }
    return 0;
  }
};

/// The byte model's parameters (see the file comment).
struct cost_model {
  int rank = 10;                 ///< factor rank: a fetched row is rank + 1 doubles
  std::size_t rating_bytes = 32; ///< bytes per rating routed
  int passes = 1;                ///< fetch rounds per batch
  std::size_t fetch_bytes() const noexcept { return 2 * (std::size_t(rank) + 1) * 8; }
};

/// "rank must be positive, got 0" and friends.
result<void> validate(const cost_model& m);

/// Ratings per user and per item (by dense index), accumulated over batches.
struct key_degrees {
  std::vector<std::uint64_t> users, items;
  key_degrees(std::size_t n_users, std::size_t n_items) : users(n_users), items(n_items) {}
  void add(std::span<const rating> rs) noexcept {
    for (const auto& r : rs) {
      ++users[r.user];
      ++items[r.item];
    }
  }
};

/// The simulated cost of one plan over a whole stream.
struct partition_cost {
  std::string strategy;
  std::size_t partitions = 0;
  std::uint64_t ratings = 0, batches = 0;
  std::vector<std::uint64_t> per_partition;  ///< ratings processed by each partition
  double imbalance = 0.0;                    ///< max / mean of per_partition
  /// Mean over batches of each batch's max / mean ratings per partition: what a
  /// synchronous micro-batch round waits for (the busiest partition of that batch).
  double batch_imbalance = 0.0;
  double fetched_per_batch = 0.0;   ///< distinct (partition, remote factor) pairs, mean
  std::uint64_t fetched = 0;        ///< the same pairs summed over batches (one pass)
  double messages_per_batch = 0.0;
  double bytes_per_batch = 0.0;
  std::uint64_t keys_moved = 0;     ///< users + items whose owner changes at n -> n+1
  std::uint64_t keys_total = 0;     ///< users + items
  double moved_fraction() const noexcept { return keys_total ? double(keys_moved) / double(keys_total) : 0.0; }
};

/// Users + items whose owner differs between `a` (n partitions) and `b` (n+1).
std::uint64_t keys_moved(const partition_plan& a, const partition_plan& b) noexcept;

/// Feeds every plan the same batches; one pass over the stream for all plans.
class cost_simulator {
 public:
  /// Plans over `users` users and `items` items (their owner arrays must have that size).
  cost_simulator(std::vector<partition_plan> plans, std::size_t users, std::size_t items,
                 const cost_model& m = {});
  /// One micro-batch (dense indices within the sizes given).
  void add(std::span<const rating> batch);
  /// Per plan, in the order given; keys_moved is left 0 (see keys_moved()).
  std::vector<partition_cost> results() const;
  const std::vector<partition_plan>& plans() const noexcept { return plans_; }

 private:
  struct totals {
    std::vector<std::uint64_t> per_partition;
    std::uint64_t ratings = 0, batches = 0, fetched = 0, messages = 0, pairs = 0;
    double batch_imbalance = 0.0;  ///< summed over batches
  };
  template <placement Place>
  void add_to(std::size_t k, std::span<const rating> batch);
  std::uint32_t next_stamp();

  std::vector<partition_plan> plans_;
  std::vector<totals> totals_;
  cost_model model_;
  std::size_t max_n_ = 1;
  std::uint32_t stamp_ = 0;
  std::vector<std::uint32_t> user_mark_, item_mark_, pair_mark_, slice_mark_, batch_count_;
};

/// The whole computation for an in-memory set: degrees are not needed, plans are given.
std::vector<partition_cost> simulate(std::span<const rating> ratings, std::size_t users,
                                     std::size_t items, std::vector<partition_plan> plans,
                                     std::size_t batch_size, const cost_model& m = {});

}  // namespace recflow
