#include "recflow/model/metrics.hpp"
#include "recflow/model/predict_errors.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace recflow {

error_metrics metrics_of_errors(std::span<const double> errors) {
  double se = 0.0, ae = 0.0;
  for (double e : errors) {
    se += e * e;
    ae += std::abs(e);
  }
  error_metrics m;
  m.count = errors.size();
  if (m.count > 0) {
    m.rmse = std::sqrt(se / static_cast<double>(m.count));
    m.mae = ae / static_cast<double>(m.count);
  }
  return m;
}

error_metrics evaluate(const factor_model& model, std::span<const rating> test,
                       const id_map& users, const id_map& items) {
  return validation_evaluator(test, users, items)(model);
}

validation_evaluator::validation_evaluator(std::span<const rating> test, const id_map& users,
                                           const id_map& items)
  : test_(test), users_(&users), items_(&items), order_(test.size()),
    user_model_(users.size(), id_map::npos), item_model_(items.size(), id_map::npos),
    errors_(test.size()) {
  // Counting sort by user table index (stable: a user's ratings keep their order).
  std::vector<std::uint32_t> start(std::size_t(users.size()) + 2, 0);
  for (const auto& r : test)
    ++start[std::min<std::size_t>(r.user, users.size()) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  for (std::uint32_t k = 0; k < test.size(); ++k)
    order_[start[std::min<std::size_t>(test[k].user, users.size())]++] = k;
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

}  // namespace

namespace {

/// The errors of the ratings in `order`, each against the model's rows (one clone per ISA:
/// this loop runs over the whole validation set after every batch).
RECFLOW_VECTOR_LOOP void model_errors(const factor_model& model, std::span<const rating> test,
                                      std::span<const std::uint32_t> order,
                                      const std::vector<index_t>& user_model,
                                      const std::vector<index_t>& item_model, double* errors) {
  auto job_of = [&](std::size_t j) {
    const auto k = order[j];
    const auto& r = test[k];
    auto u = r.user < user_model.size() ? user_model[r.user] : id_map::npos;
    auto i = r.item < item_model.size() ? item_model[r.item] : id_map::npos;
    error_job job{.user = {}, .item = {}, .value = r.value, .pos = k};
    if (model.user_known(u))
      job.user = {model.user_bias()[u], model.U().row(u).data()};
    if (model.item_known(i))
      job.item = {model.item_bias()[i], model.P().row(i).data()};
    return job;
  };
  predict_errors(order.size(), job_of, model.mu(), model.scale(), model.rank(), errors);
}

}  // namespace

error_metrics validation_evaluator::operator()(const factor_model& model) {
  resolve(user_model_, *users_, model.users());
  resolve(item_model_, *items_, model.items());
  model_errors(model, test_, order_, user_model_, item_model_, errors_.data());
  return metrics_of_errors(errors_);
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
