/// Accuracy metrics of a model on held-out ratings.
#pragma once

#include <cstddef>
#include <span>

#include "model/model.hpp"

namespace recflow {

/// Root mean squared error and mean absolute error over `count` ratings.
struct error_metrics {
  double rmse = 0.0;
  double mae = 0.0;
  std::size_t count = 0;
};

/// Evaluates `model` on ratings whose indices live in the id space of (`users`, `items`)
/// (a rating table's maps); ids the model has not seen use the documented fallback.
error_metrics evaluate(const factor_model& model, std::span<const rating> test,
                       const id_map& users, const id_map& items);

/// Same, for a table.
inline error_metrics evaluate(const factor_model& model, const rating_table& test) {
  return evaluate(model, test.ratings, test.users, test.items);
}

/// RMSE/MAE of predictions against truths (equal lengths).
error_metrics error_of(std::span<const double> predictions, std::span<const double> truths);

}  // namespace recflow
