#include "recflow/actors/shard_eval.hpp"

#include <algorithm>

#include "recflow/model/model.hpp"
#include "recflow/model/predict_errors.hpp"

namespace recflow {

shard_evaluation::shard_evaluation(const rating_table& validation, std::vector<entry> entries)
  : validation_(&validation), entries_(std::move(entries)) {}

void shard_evaluation::key_table::update(const shard_store& store, const id_map& ids) {
  if (key.size() != ids.size())
    key.assign(ids.size(), id_map::npos);
  for (; seen < store.size(); ++seen) {
    auto v = ids.find(store.id(seen));
    validation.push_back(v);
    if (v != id_map::npos)
      key[v] = seen;
  }
}

void shard_evaluation::key_table::changed_since(const shard_store& store, std::uint32_t version,
                                                std::vector<index_t>& out) const {
  // One pass over the store's stamps, in key order; the keys a validation rating names
  // are few beside them.
  for (std::uint32_t k = 0; k < seen; ++k)
    if (store.changed(k) > version && validation[k] != id_map::npos)
      out.push_back(validation[k]);
}

namespace {

/// The row of validation index `v`, if `store` holds it trained.
known_row row_of(const std::vector<std::uint32_t>& keys, index_t v, const shard_store& store) {
  auto k = keys[v];
  if (k == id_map::npos || store.count(k) == 0)
    return {};
  return {store.bias(k), store.row(k)};
}

/// shard_evaluation::run's loop over the entries `jobs` (every entry if `all`), one clone
/// per ISA (it runs over the shard's validation ratings after every batch).
RECFLOW_VECTOR_LOOP void shard_cores(std::span<const shard_evaluation::entry> entries,
                                     std::span<const std::uint32_t> jobs, bool all,
                                     const std::vector<std::uint32_t>& user_keys,
                                     std::span<const std::vector<std::uint32_t>* const> item_keys,
                                     const shard_store& users,
                                     std::span<const shard_store* const> items, double* cores) {
  auto job_of = [&](std::size_t j) {
    const auto& e = entries[all ? j : jobs[j]];
    return core_job{.user = row_of(user_keys, e.user, users),
                    .item = row_of(*item_keys[e.item_shard], e.item, *items[e.item_shard]),
                    .pos = e.pos};
  };
  predict_cores(all ? entries.size() : jobs.size(), job_of, users.rank(), cores);
}

}  // namespace

void shard_evaluation::run(const shard_store& users, std::span<const shard_store* const> items,
                           double* cores) {
  if (!validation_)
    return;
  users_.update(users, validation_->users);
  items_.resize(items.size());
  item_keys_.resize(items.size());
  for (std::size_t t = 0; t < items.size(); ++t) {
    items_[t].update(*items[t], validation_->items);
    item_keys_[t] = &items_[t].key;
  }
  bool again = cores != cores_ || &users != user_store_
               || !std::equal(items.begin(), items.end(), item_stores_.begin(), item_stores_.end());
  bool all = again;
  if (!again) {
    // The users and items whose keys a batch touched since the run before (a key added
    // since too: its ratings no longer fall back to the mean), then their ratings.
    changed_users_.clear();
    changed_items_.clear();
    users_.changed_since(users, user_version_, changed_users_);
    for (std::size_t t = 0; t < items.size(); ++t)
      items_[t].changed_since(*items[t], item_versions_[t], changed_items_);
    if (!changed_.built())  // once, by the first run that keeps cores
      changed_ = changed_ratings::of<entry>(entries_, validation_->users.size(),
                                            validation_->items.size());
    all = changed_.select(changed_users_, changed_items_, jobs_);
  }
  shard_cores(entries_, jobs_, all, users_.key, item_keys_, users, items, cores);
  cores_ = cores;
  user_store_ = &users;
  user_version_ = users.version();
  item_stores_.assign(items.begin(), items.end());
  item_versions_.resize(items.size());
  for (std::size_t t = 0; t < items.size(); ++t)
    item_versions_[t] = items[t]->version();
}

std::vector<shard_evaluation> split_validation(const rating_table& validation,
                                               std::size_t shards, const partitioner& users,
                                               const partitioner& items) {
  const auto& rs = validation.ratings;
  std::vector<std::uint32_t> shard_of(rs.size());
  std::vector<std::size_t> sizes(shards, 0);
  for (std::uint32_t k = 0; k < rs.size(); ++k)
    ++sizes[shard_of[k] = static_cast<std::uint32_t>(users(validation.users.external(rs[k].user)))];
  std::vector<std::vector<shard_evaluation::entry>> parts(shards);
  for (std::size_t s = 0; s < shards; ++s)
    parts[s].reserve(sizes[s]);
  for (std::uint32_t k = 0; k < rs.size(); ++k)
    parts[shard_of[k]].push_back(
      {.pos = k,
       .item_shard = static_cast<std::uint32_t>(items(validation.items.external(rs[k].item))),
       .user = rs[k].user,
       .item = rs[k].item});
  std::vector<shard_evaluation> out;
  out.reserve(shards);
  for (auto& p : parts) {
    // Grouped by user (stable), so each user row is read once per evaluation.
    std::stable_sort(p.begin(), p.end(),
                     [](const auto& a, const auto& b) { return a.user < b.user; });
    out.emplace_back(validation, std::move(p));
  }
  return out;
}

}  // namespace recflow
