/// Accuracy metrics of a model on held-out ratings.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "recflow/model/model.hpp"

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

/// RMSE and MAE of per-rating errors (prediction - truth), summed in their order: what
/// evaluate() computes from the same errors, bit for bit.
error_metrics metrics_of_errors(std::span<const double> errors);

/// Evaluates a growing model on one validation set again and again, e.g. after every
/// micro-batch of a stream: the same values as evaluate(), bit for bit, but each id is
/// resolved to a model index once (an id the model does not know yet is looked up again
/// at the next call; a cached index is checked against the id, so any model may be
/// passed), and the ratings are read grouped by user, so each user row is fetched once
/// per call instead of once per rating. The validation set must outlive the evaluator.
class validation_evaluator {
 public:
  /// `test` with indices in the id space of (`users`, `items`).
  validation_evaluator(std::span<const rating> test, const id_map& users, const id_map& items);
  explicit validation_evaluator(const rating_table& test)
    : validation_evaluator(test.ratings, test.users, test.items) {}

  error_metrics operator()(const factor_model& model);

 private:
  std::span<const rating> test_;
  const id_map* users_;
  const id_map* items_;
  std::vector<std::uint32_t> order_;             ///< rating positions grouped by user
  std::vector<index_t> user_model_, item_model_;  ///< table index -> model index (cache)
  std::vector<double> errors_;                    ///< by rating position
};

/// RMSE/MAE of predictions against truths (equal lengths).
error_metrics error_of(std::span<const double> predictions, std::span<const double> truths);

}  // namespace recflow
