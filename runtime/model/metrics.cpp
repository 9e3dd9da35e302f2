#include "model/metrics.hpp"

#include <cmath>
#include <vector>

namespace recflow {

error_metrics evaluate(const factor_model& model, std::span<const rating> test,
                       const id_map& users, const id_map& items) {
  // Translate each table index to a model index once, then predict.
  std::vector<index_t> user_to_model(users.size(), id_map::npos);
  std::vector<index_t> item_to_model(items.size(), id_map::npos);
  for (index_t u = 0; u < users.size(); ++u)
    user_to_model[u] = model.users().find(users.external(u));
  for (index_t i = 0; i < items.size(); ++i)
    item_to_model[i] = model.items().find(items.external(i));
  double se = 0.0, ae = 0.0;
  for (const auto& r : test) {
    auto u = r.user < user_to_model.size() ? user_to_model[r.user] : id_map::npos;
    auto i = r.item < item_to_model.size() ? item_to_model[r.item] : id_map::npos;
    double e = model.predict(u, i) - r.value;
    se += e * e;
    ae += std::abs(e);
  }
  error_metrics m;
  m.count = test.size();
  if (m.count > 0) {
    m.rmse = std::sqrt(se / static_cast<double>(m.count));
    m.mae = ae / static_cast<double>(m.count);
  }
  return m;
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
