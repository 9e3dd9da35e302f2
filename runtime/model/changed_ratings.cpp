#include "recflow/model/changed_ratings.hpp"

#include <algorithm>
#include <numeric>

namespace recflow {

changed_ratings::changed_ratings(std::span<const index_t> user_of,
                                 std::span<const index_t> item_of, index_t n_users,
                                 index_t n_items)
  : user_begin_(std::size_t(n_users) + 1, 0), item_begin_(std::size_t(n_items) + 1, 0),
    user_marked_(n_users, 0) {
  const auto n = static_cast<std::uint32_t>(std::min(user_of.size(), item_of.size()));
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
      by_item_[next[item_of[j]]++] = {j, user_of[j]};
}

void changed_ratings::select(std::span<const index_t> users, std::span<const index_t> items,
                             std::vector<std::uint32_t>& out) {
  out.clear();
  if (user_begin_.empty())
    return;
  const auto n_users = static_cast<index_t>(user_begin_.size() - 1);
  const auto n_items = static_cast<index_t>(item_begin_.size() - 1);
  for (auto u : users)
    if (u < n_users && !user_marked_[u]) {
      user_marked_[u] = 1;
      for (auto j = user_begin_[u]; j < user_begin_[u + 1]; ++j)
        out.push_back(j);
    }
  // An item's entries whose user was selected above are not listed again.
  for (auto i : items)
    if (i < n_items)
      for (auto k = item_begin_[i]; k < item_begin_[i + 1]; ++k)
        if (const auto& e = by_item_[k]; e.user >= n_users || !user_marked_[e.user]) {
          out.push_back(e.entry);
        }
  for (auto u : users)
    if (u < n_users)
      user_marked_[u] = 0;
}

}  // namespace recflow
