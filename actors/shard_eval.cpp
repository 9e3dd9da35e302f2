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
  for (; seen < store.size(); ++seen)
    if (auto v = ids.find(store.id(seen)); v != id_map::npos)
      key[v] = seen;
}

namespace {

/// The row of validation index `v`, if `store` holds it trained.
known_row row_of(const std::vector<std::uint32_t>& keys, index_t v, const shard_store& store) {
  auto k = keys[v];
  if (k == id_map::npos || store.count(k) == 0)
    return {};
  return {store.bias(k), store.row(k)};
}

/// shard_evaluation::run's loop, one clone per ISA (it runs over the shard's validation
/// ratings after every batch).
RECFLOW_VECTOR_LOOP void shard_errors(std::span<const shard_evaluation::entry> entries,
                                      const std::vector<std::uint32_t>& user_keys,
                                      std::span<const std::vector<std::uint32_t>* const> item_keys,
                                      double mu, const rating_scale& scale,
                                      const shard_store& users,
                                      std::span<const shard_store* const> items,
                                      double* errors) {
  auto job_of = [&](std::size_t k) {
    const auto& e = entries[k];
    return error_job{.user = row_of(user_keys, e.user, users),
                     .item = row_of(*item_keys[e.item_shard], e.item, *items[e.item_shard]),
                     .value = e.value,
                     .pos = e.pos};
  };
  predict_errors(entries.size(), job_of, mu, scale, users.rank(), errors);
}

}  // namespace

void shard_evaluation::run(double mu, const rating_scale& scale, const shard_store& users,
                           std::span<const shard_store* const> items, double* errors) {
  if (!validation_)
    return;
  users_.update(users, validation_->users);
  items_.resize(items.size());
  item_keys_.resize(items.size());
  for (std::size_t t = 0; t < items.size(); ++t) {
    items_[t].update(*items[t], validation_->items);
    item_keys_[t] = &items_[t].key;
  }
  shard_errors(entries_, users_.key, item_keys_, mu, scale, users, items, errors);
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
       .item = rs[k].item,
       .value = rs[k].value});
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
