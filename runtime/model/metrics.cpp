#include "recflow/model/metrics.hpp"
#include "recflow/model/predict_errors.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace recflow {

namespace {

/// The sums of one block (one clone per ISA: the blocks cover the whole validation set
/// after every batch). Four interleaved sums: not one chain of dependent additions, and
/// the order of every addition still fixed (the same in every evaluator).
RECFLOW_VECTOR_LOOP error_sums sum_block(double mu, const rating_scale& scale, const double* cores,
                                         const float* truth, std::size_t n) {
  constexpr std::size_t lanes = 4;
  double se[lanes] = {}, ae[lanes] = {};
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes)
    for (std::size_t l = 0; l < lanes; ++l) {
      double e = finish_prediction(mu, scale, cores[k + l]) - static_cast<double>(truth[k + l]);
      se[l] += e * e;
      ae[l] += std::abs(e);
    }
  for (std::size_t l = 0; k < n; ++k, ++l) {
    double e = finish_prediction(mu, scale, cores[k]) - static_cast<double>(truth[k]);
    se[l] += e * e;
    ae[l] += std::abs(e);
  }
  return {(se[0] + se[1]) + (se[2] + se[3]), (ae[0] + ae[1]) + (ae[2] + ae[3])};
}

}  // namespace

void sum_error_blocks(double mu, const rating_scale& scale, std::span<const double> cores,
                      std::span<const float> truth, std::size_t first, std::size_t last,
                      error_sums* out) {
  const auto n = std::min(cores.size(), truth.size());
  for (auto b = first; b < last && b * error_block < n; ++b) {
    auto at = b * error_block;
    out[b] = sum_block(mu, scale, cores.data() + at, truth.data() + at,
                       std::min(error_block, n - at));
  }
}

error_metrics metrics_of_sums(std::span<const error_sums> blocks, std::size_t n) {
  double se = 0.0, ae = 0.0;
  for (const auto& b : blocks) {
    se += b.se;
    ae += b.ae;
  }
  error_metrics m;
  m.count = n;
  if (n > 0) {
    m.rmse = std::sqrt(se / static_cast<double>(n));
    m.mae = ae / static_cast<double>(n);
  }
  return m;
}

error_metrics metrics_of_cores(double mu, const rating_scale& scale, std::span<const double> cores,
                               std::span<const float> truth) {
  const auto n = std::min(cores.size(), truth.size());
  std::vector<error_sums> blocks(error_blocks(n));
  sum_error_blocks(mu, scale, cores, truth, 0, blocks.size(), blocks.data());
  return metrics_of_sums(blocks, n);
}

error_metrics evaluate(const factor_model& model, std::span<const rating> test,
                       const id_map& users, const id_map& items) {
  return validation_evaluator(test, users, items)(model);
}

validation_evaluator::validation_evaluator(std::span<const rating> test, const id_map& users,
                                           const id_map& items)
  : users_(&users), items_(&items), entries_(test.size()),
    user_model_(users.size(), id_map::npos), item_model_(items.size(), id_map::npos),
    cores_(test.size()), truth_(test.size()) {
  // Counting sort by user table index (stable: a user's ratings keep their order).
  std::vector<std::uint32_t> start(std::size_t(users.size()) + 2, 0);
  for (const auto& r : test)
    ++start[std::min<std::size_t>(r.user, users.size()) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  for (std::uint32_t k = 0; k < test.size(); ++k) {
    entries_[start[std::min<std::size_t>(test[k].user, users.size())]++] = {
      k, test[k].user, test[k].item};
    truth_[k] = test[k].value;
  }
}

namespace {

/// Refreshes a table -> model index cache: keeps entries whose model id still matches,
/// looks up the others (new ids, or another model).
void resolve(std::vector<index_t>& cache, const id_map& table, const id_map& model) {
  for (index_t t = 0; t < cache.size(); ++t) {
    auto ext = table.external(t);
    auto& m = cache[t];
    if (m != id_map::npos && m < model.size() && model.external(m) == ext)
      continue;
    m = model.find(ext);
  }
}

/// The cores of the entries `jobs` (every entry if `all`), each against the model's rows
/// (one clone per ISA: this loop runs over the validation set after every batch).
RECFLOW_VECTOR_LOOP void model_cores(const factor_model& model,
                                     std::span<const validation_evaluator::entry> entries,
                                     std::span<const std::uint32_t> jobs, bool all,
                                     const std::vector<index_t>& user_model,
                                     const std::vector<index_t>& item_model, double* cores) {
  auto job_of = [&](std::size_t j) {
    const auto& e = entries[all ? j : jobs[j]];
    auto u = e.user < user_model.size() ? user_model[e.user] : id_map::npos;
    auto i = e.item < item_model.size() ? item_model[e.item] : id_map::npos;
    core_job job{.user = {}, .item = {}, .pos = e.pos};
    if (model.user_known(u))
      job.user = {model.user_bias()[u], model.U().row(u).data()};
    if (model.item_known(i))
      job.item = {model.item_bias()[i], model.P().row(i).data()};
    return job;
  };
  predict_cores(all ? entries.size() : jobs.size(), job_of, model.rank(), cores);
}

}  // namespace

void validation_evaluator::predict(const factor_model& model, std::span<const std::uint32_t> jobs,
                                   bool all) {
  model_cores(model, entries_, jobs, all, user_model_, item_model_, cores_.data());
}

error_metrics validation_evaluator::finish(const factor_model& model) {
  primed_ = true;
  user_tag_ = model.users().tag();
  item_tag_ = model.items().tag();
  users_seen_ = model.users().size();
  items_seen_ = model.items().size();
  for (auto t : dirty_users_)
    user_dirty_[t] = 0;
  for (auto t : dirty_items_)
    item_dirty_[t] = 0;
  dirty_users_.clear();
  dirty_items_.clear();
  return metrics_of_cores(model.mu(), model.scale(), cores_, truth_);
}

error_metrics validation_evaluator::operator()(const factor_model& model) {
  resolve(user_model_, *users_, model.users());
  resolve(item_model_, *items_, model.items());
  predict(model, {}, true);
  return finish(model);
}

void validation_evaluator::translation::follow(const id_map& from, const id_map& test) {
  if (tag != from.tag()) {
    tag = from.tag();
    to_test.clear();
  }
  for (auto t = static_cast<index_t>(to_test.size()); t < from.size(); ++t)
    to_test.push_back(test.find(from.external(t)));
}

void validation_evaluator::mark(std::vector<std::uint8_t>& dirty, std::vector<index_t>& list,
                                index_t t) {
  if (t == id_map::npos)
    return;
  if (dirty.size() <= t)
    dirty.resize(std::size_t(t) + 1, 0);
  if (!dirty[t]) {
    dirty[t] = 1;
    list.push_back(t);
  }
}

void validation_evaluator::note(std::span<const rating> batch, const id_map& users,
                                const id_map& items) {
  from_users_.follow(users, *users_);
  from_items_.follow(items, *items_);
  for (const auto& r : batch) {
    if (r.user < from_users_.to_test.size())
      mark(user_dirty_, dirty_users_, from_users_.to_test[r.user]);
    if (r.item < from_items_.to_test.size())
      mark(item_dirty_, dirty_items_, from_items_.to_test[r.item]);
  }
}

error_metrics validation_evaluator::update(const factor_model& model) {
  if (!primed_ || model.users().tag() != user_tag_ || model.items().tag() != item_tag_
      || model.users().size() < users_seen_ || model.items().size() < items_seen_)
    return (*this)(model);
  // Ids the model added since: their test-table entries resolve now, and their ratings
  // are predicted again.
  auto grow = [&](std::vector<index_t>& cache, const id_map& table, const id_map& ids,
                  index_t from, std::vector<std::uint8_t>& dirty, std::vector<index_t>& list) {
    for (index_t m = from; m < ids.size(); ++m)
      if (auto t = table.find(ids.external(m)); t != id_map::npos) {
        cache[t] = m;
        mark(dirty, list, t);
      }
  };
  grow(user_model_, *users_, model.users(), users_seen_, user_dirty_, dirty_users_);
  grow(item_model_, *items_, model.items(), items_seen_, item_dirty_, dirty_items_);
  if (!changed_.built())  // once, by the first run that keeps cores
    changed_ = changed_ratings::of<entry>(entries_, users_->size(), items_->size());
  bool all = changed_.select(dirty_users_, dirty_items_, jobs_);
  predict(model, jobs_, all);
  return finish(model);
}

error_metrics error_of(std::span<const double> predictions, std::span<const double> truths) {
  double se = 0.0, ae = 0.0;
  auto n = std::min(predictions.size(), truths.size());
  for (std::size_t k = 0; k < n; ++k) {
    double e = predictions[k] - truths[k];
    se += e * e;
    ae += std::abs(e);
  }
  error_metrics m;
  m.count = n;
  if (n > 0) {
    m.rmse = std::sqrt(se / static_cast<double>(n));
    m.mae = ae / static_cast<double>(n);
  }
  return m;
}

}  // namespace recflow
