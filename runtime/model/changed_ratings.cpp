#include "recflow/model/changed_ratings.hpp"

#include <algorithm>
#include <bit>
#include <numeric>
#include <utility>

namespace recflow {

changed_ratings::changed_ratings(std::span<const index_t> user_of,
                                 std::span<const index_t> item_of, index_t n_users,
                                 index_t n_items)
  : user_begin_(std::size_t(n_users) + 1, 0), item_begin_(std::size_t(n_items) + 1, 0) {
  const auto n = static_cast<std::uint32_t>(std::min(user_of.size(), item_of.size()));
  entries_ = n;
  bits_.assign((std::size_t(n) + 63) / 64, 0);
  for (std::uint32_t j = 0; j < n; ++j) {
    if (user_of[j] < n_users)
      ++user_begin_[std::size_t(user_of[j]) + 1];
    if (item_of[j] < n_items)
      ++item_begin_[std::size_t(item_of[j]) + 1];
  }
  std::partial_sum(user_begin_.begin(), user_begin_.end(), user_begin_.begin());
  std::partial_sum(item_begin_.begin(), item_begin_.end(), item_begin_.begin());
  by_item_.resize(item_begin_.back());
  auto next = item_begin_;
  for (std::uint32_t j = 0; j < n; ++j)
    if (item_of[j] < n_items)
      by_item_[next[item_of[j]]++] = j;
}

bool changed_ratings::select(std::span<const index_t> users, std::span<const index_t> items,
                             std::vector<std::uint32_t>& out) {
  out.clear();
  if (user_begin_.empty())
    return false;
  auto set = [&](std::uint32_t j) { bits_[j / 64] |= std::uint64_t(1) << (j % 64); };
  const auto n_users = static_cast<index_t>(user_begin_.size() - 1);
  const auto n_items = static_cast<index_t>(item_begin_.size() - 1);
  // Most entries changed (a large batch): all of them, without the bitset. An entry of a
  // changed user and a changed item counts twice here, so this errs towards the bitset.
  std::size_t named = 0;
  for (auto u : users)
    if (u < n_users)
      named += user_begin_[u + 1] - user_begin_[u];
  for (auto i : items)
    if (i < n_items)
      named += item_begin_[i + 1] - item_begin_[i];
  if (named >= std::size_t(entries_) / 5 * 4 && entries_ > 0)
    return true;
  for (auto u : users)
    if (u < n_users)
      for (auto j = user_begin_[u]; j < user_begin_[u + 1]; ++j)
        set(j);
  for (auto i : items)
    if (i < n_items)
      for (auto k = item_begin_[i]; k < item_begin_[i + 1]; ++k)
        set(by_item_[k]);
  // Read back in entry order: grouped by user, so the predictions that follow read each
  // user's row once (the users' table is the larger one; item rows come from all over).
  for (std::size_t w = 0; w < bits_.size(); ++w)
    for (auto word = std::exchange(bits_[w], 0); word != 0; word &= word - 1)
      out.push_back(static_cast<std::uint32_t>(w * 64 + std::countr_zero(word)));
  return false;
}

}  // namespace recflow
