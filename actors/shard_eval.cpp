#include "recflow/actors/shard_eval.hpp"

#include <algorithm>

#include "recflow/model/model.hpp"
#include "recflow/model/predict_errors.hpp"

namespace recflow {

shard_evaluation::shard_evaluation(const rating_table& validation, std::vector<entry> entries)
  : validation_(&validation), entries_(std::move(entries)) {}

namespace {

/// Whether `key` (looked up on first need; stores only ever add keys) names a trained row.
bool known_key(std::uint32_t& key, const shard_store& store, std::int64_t id) {
  if (key == id_map::npos)
    key = store.find(id);
  return key != id_map::npos && store.count(key) > 0;
}

/// shard_evaluation::run's loop, one clone per ISA (it runs over the shard's validation
/// ratings after every batch).
RECFLOW_VECTOR_LOOP void shard_errors(const rating_table& validation,
                                      std::span<shard_evaluation::entry> entries, double mu,
                                      const rating_scale& scale, const shard_store& users,
                                      std::span<const shard_store* const> items,
                                      double* errors) {
  auto job_of = [&](std::size_t k) {
    auto& e = entries[k];
    const auto& r = validation.ratings[e.pos];
    const auto& item_store = *items[e.item_shard];
    error_job job{.user = {}, .item = {}, .value = r.value, .pos = e.pos};
    if (known_key(e.user_key, users, validation.users.external(r.user)))
      job.user = {users.bias(e.user_key), users.row(e.user_key)};
    if (known_key(e.item_key, item_store, validation.items.external(r.item)))
      job.item = {item_store.bias(e.item_key), item_store.row(e.item_key)};
    return job;
  };
  predict_errors(entries.size(), job_of, mu, scale, users.rank(), errors);
}

}  // namespace

void shard_evaluation::run(double mu, const rating_scale& scale, const shard_store& users,
                           std::span<const shard_store* const> items, double* errors) {
  if (validation_)
    shard_errors(*validation_, entries_, mu, scale, users, items, errors);
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
       .user_key = id_map::npos,
       .item_key = id_map::npos});
  std::vector<shard_evaluation> out;
  out.reserve(shards);
  for (auto& p : parts) {
    // Grouped by user (stable), so each user row is read once per evaluation.
    std::stable_sort(p.begin(), p.end(), [&](const auto& a, const auto& b) {
      return rs[a.pos].user < rs[b.pos].user;
    });
    out.emplace_back(validation, std::move(p));
  }
  return out;
}

}  // namespace recflow
