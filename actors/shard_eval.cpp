#include "recflow/actors/shard_eval.hpp"

#include <algorithm>

#include "recflow/model/model.hpp"

namespace recflow {

shard_evaluation::shard_evaluation(std::vector<entry> entries)
  : entries_(std::move(entries)), user_key_(entries_.size(), id_map::npos),
    item_key_(entries_.size(), id_map::npos) {}

void shard_evaluation::run(double mu, const rating_scale& scale, const shard_store& users,
                           std::span<const shard_store* const> items, double* errors) {
  auto lookup = [](std::uint32_t& key, const shard_store& store, std::int64_t id) {
    if (key == id_map::npos)
      key = store.find(id);
    return key != id_map::npos && store.count(key) > 0;
  };
  const int rank = users.rank();
  for (std::size_t k = 0; k < entries_.size(); ++k) {
    const auto& e = entries_[k];
    const auto& item_store = *items[e.item_shard];
    known_row user, item;
    if (lookup(user_key_[k], users, e.user))
      user = {users.bias(user_key_[k]), users.row(user_key_[k])};
    if (lookup(item_key_[k], item_store, e.item))
      item = {item_store.bias(item_key_[k]), item_store.row(item_key_[k])};
    errors[e.pos] = predict_rows(mu, scale, user, item, rank) - e.value;
  }
}

std::vector<shard_evaluation> split_validation(const rating_table& validation,
                                               std::size_t shards, const partitioner& users,
                                               const partitioner& items) {
  std::vector<std::vector<shard_evaluation::entry>> parts(shards);
  const auto& rs = validation.ratings;
  for (std::uint32_t k = 0; k < rs.size(); ++k) {
    auto user = validation.users.external(rs[k].user);
    auto item = validation.items.external(rs[k].item);
    parts[users(user)].push_back({.pos = k,
                                  .item_shard = static_cast<std::uint32_t>(items(item)),
                                  .user = user,
                                  .item = item,
                                  .value = rs[k].value});
  }
  std::vector<shard_evaluation> out;
  out.reserve(shards);
  for (auto& p : parts) {
    // Grouped by user (stable), so each user row is read once per evaluation.
    std::stable_sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.user < b.user; });
    out.emplace_back(std::move(p));
  }
  return out;
}

}  // namespace recflow
