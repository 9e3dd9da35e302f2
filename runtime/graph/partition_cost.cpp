#include "recflow/graph/partition_cost.hpp"

#include <algorithm>

namespace recflow {

result<void> validate(const cost_model& m) {
  if (m.rank <= 0)
    return error{errc::invalid_argument, "rank must be positive, got " + std::to_string(m.rank)};
  if (m.passes <= 0)
    return error{errc::invalid_argument, "passes must be positive, got " + std::to_string(m.passes)};
  return {};
}

std::uint64_t keys_moved(const partition_plan& a, const partition_plan& b) noexcept {
  std::uint64_t moved = 0;
  auto count = [&](const auto& x, const auto& y) {
    for (std::size_t k = 0; k < std::min(x.size(), y.size()); ++k)
      moved += x[k] != y[k];
  };
  count(a.user_owner, b.user_owner);
  count(a.item_owner, b.item_owner);
  return moved;
}

cost_simulator::cost_simulator(std::vector<partition_plan> plans, std::size_t users,
                               std::size_t items, const cost_model& m)
  : plans_(std::move(plans)), totals_(plans_.size()), model_(m) {
  bool need_users = false, need_items = false;
  for (std::size_t k = 0; k < plans_.size(); ++k) {
    max_n_ = std::max(max_n_, plans_[k].partitions);
    totals_[k].per_partition.assign(plans_[k].partitions, 0);
    need_users |= plans_[k].place != placement::by_user;
    need_items |= plans_[k].place != placement::by_item;
  }
  // One set of marks for all plans: an entry is "seen" when it holds the current stamp,
  // and every (batch, plan) gets a fresh stamp, so nothing is ever cleared.
  if (need_users)
    user_mark_.assign(users * max_n_, 0);
  if (need_items)
    item_mark_.assign(items * max_n_, 0);
  pair_mark_.assign(max_n_ * max_n_, 0);
  slice_mark_.assign(max_n_, 0);
  batch_count_.assign(max_n_, 0);
}

std::uint32_t cost_simulator::next_stamp() {
  if (++stamp_ == 0) {  // wrapped after 2^32 (batch, plan) rounds: forget every mark
    for (auto* v : {&user_mark_, &item_mark_, &pair_mark_, &slice_mark_})
      std::fill(v->begin(), v->end(), 0u);
    stamp_ = 1;
  }
  return stamp_;
}

template <placement Place>
void cost_simulator::add_to(std::size_t k, std::span<const rating> batch) {
  const auto& plan = plans_[k];
  auto& t = totals_[k];
  const auto stamp = next_stamp();
  const auto n = max_n_;
  const auto cols = std::uint32_t(plan.cols);
  const auto* uo = plan.user_owner.data();
  const auto* io = plan.item_owner.data();
  std::uint64_t fetched = 0, pairs = 0, slices = 0;
  auto fetch = [&](std::uint32_t* mark, std::uint32_t p, std::uint32_t owner) {
    if (*mark == stamp)
      return;
    *mark = stamp;
    ++fetched;
    auto& pm = pair_mark_[std::size_t(p) * n + owner];
    if (pm != stamp) {
      pm = stamp;
      ++pairs;
    }
  };
  for (const auto& r : batch) {
    std::uint32_t p;
    if constexpr (Place == placement::by_user)
      p = uo[r.user];
    else if constexpr (Place == placement::by_item)
      p = io[r.item];
    else
      p = plan.user_row[r.user] * cols + plan.item_col[r.item];
    ++t.per_partition[p];
    if (slice_mark_[p] != stamp) {
      slice_mark_[p] = stamp;
      batch_count_[p] = 0;
      ++slices;
    }
    ++batch_count_[p];
    if constexpr (Place != placement::by_user)
      if (uo[r.user] != p)
        fetch(&user_mark_[std::size_t(r.user) * n + p], p, uo[r.user]);
    if constexpr (Place != placement::by_item)
      if (io[r.item] != p)
        fetch(&item_mark_[std::size_t(r.item) * n + p], p, io[r.item]);
  }
  std::uint32_t busiest = 0;
  for (std::size_t q = 0; q < plan.partitions; ++q)
    if (slice_mark_[q] == stamp)
      busiest = std::max(busiest, batch_count_[q]);
  t.batch_imbalance += double(busiest) * double(plan.partitions) / double(batch.size());
  t.ratings += batch.size();
  t.batches += 1;
  t.fetched += fetched;
  t.pairs += pairs;
  t.messages += slices + 2 * pairs * std::uint64_t(model_.passes);
}

void cost_simulator::add(std::span<const rating> batch) {
  if (batch.empty())
    return;
  for (std::size_t k = 0; k < plans_.size(); ++k) {
    switch (plans_[k].place) {
      case placement::by_user: add_to<placement::by_user>(k, batch); break;
      case placement::by_item: add_to<placement::by_item>(k, batch); break;
      case placement::grid: add_to<placement::grid>(k, batch); break;
    }
  }
}

std::vector<partition_cost> cost_simulator::results() const {
  std::vector<partition_cost> out;
  for (std::size_t k = 0; k < plans_.size(); ++k) {
    const auto& t = totals_[k];
    partition_cost c;
    c.strategy = plans_[k].strategy;
    c.partitions = plans_[k].partitions;
    c.ratings = t.ratings;
    c.batches = t.batches;
    c.per_partition = t.per_partition;
    c.keys_total = plans_[k].user_owner.size() + plans_[k].item_owner.size();
    auto mx = t.per_partition.empty() ? 0 : *std::max_element(t.per_partition.begin(), t.per_partition.end());
    double mean = double(t.ratings) / double(std::max<std::size_t>(1, c.partitions));
    c.imbalance = mean > 0 ? double(mx) / mean : 0.0;
    double b = double(std::max<std::uint64_t>(1, t.batches));
    c.batch_imbalance = t.batch_imbalance / b;
    c.fetched_per_batch = double(t.fetched) / b;
    c.fetched = t.fetched;
    c.messages_per_batch = double(t.messages) / b;
    c.bytes_per_batch = (double(t.ratings) * double(model_.rating_bytes) +
                         double(t.fetched) * double(model_.fetch_bytes()) * model_.passes) / b;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<partition_cost> simulate(std::span<const rating> ratings, std::size_t users,
                                     std::size_t items, std::vector<partition_plan> plans,
                                     std::size_t batch_size, const cost_model& m) {
  cost_simulator sim(std::move(plans), users, items, m);
  batch_size = std::max<std::size_t>(1, batch_size);
  for (std::size_t at = 0; at < ratings.size(); at += batch_size)
    sim.add(ratings.subspan(at, std::min(batch_size, ratings.size() - at)));
  return sim.results();
}

}  // namespace recflow
