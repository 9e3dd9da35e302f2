/// Accuracy metrics of a model on held-out ratings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/changed_ratings.hpp"
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

/// RMSE and MAE of the predictions finish_prediction(mu, scale, cores[k]) against
/// truth[k] (predict_errors.hpp), summed in a fixed order: in blocks of `error_block`
/// positions (four interleaved sums in each, added pairwise), the blocks' sums added in
/// block order. What evaluate() computes from the same cores, bit for bit; the blocks can
/// be summed by several threads (sum_error_blocks) and added by one (metrics_of_sums).
error_metrics metrics_of_cores(double mu, const rating_scale& scale, std::span<const double> cores,
                               std::span<const float> truth);

/// Squared and absolute errors of one block of positions.
struct error_sums {
  double se = 0.0, ae = 0.0;
};
inline constexpr std::size_t error_block = std::size_t(1) << 14;
/// Blocks of `n` positions.
inline std::size_t error_blocks(std::size_t n) noexcept { return (n + error_block - 1) / error_block; }
/// The sums of blocks [first, last) of (cores, truth) into out[first .. last).
void sum_error_blocks(double mu, const rating_scale& scale, std::span<const double> cores,
                      std::span<const float> truth, std::size_t first, std::size_t last,
                      error_sums* out);
/// RMSE and MAE of `n` errors from the sums of their blocks, added in order.
error_metrics metrics_of_sums(std::span<const error_sums> blocks, std::size_t n);

/// Evaluates a growing model on one validation set again and again, e.g. after every
/// micro-batch of a stream: the same values as evaluate(), bit for bit, but each id is
/// resolved to a model index once (an id the model does not know yet is looked up again
/// when the model grows; a cache built for one model is rebuilt for another), the ratings
/// are read grouped by user, so each user row is fetched once per call instead of once per
/// rating, and, through note() and update(), only the ratings whose rows a batch changed
/// are predicted again. The validation set must outlive the evaluator.
class validation_evaluator {
 public:
  /// A test rating, in the order the evaluator reads them (grouped by user).
  struct entry {
    std::uint32_t pos = 0;  ///< position in the test set
    index_t user = 0, item = 0;
  };

  /// `test` with indices in the id space of (`users`, `items`).
  validation_evaluator(std::span<const rating> test, const id_map& users, const id_map& items);
  explicit validation_evaluator(const rating_table& test)
    : validation_evaluator(test.ratings, test.users, test.items) {}

  /// Evaluates `model` in full (any model).
  error_metrics operator()(const factor_model& model);

  /// Notes that `batch` (indices in the id space of (`users`, `items`), e.g. the training
  /// table's) was applied to the model that update() evaluates next.
  void note(std::span<const rating> batch, const id_map& users, const id_map& items);
  /// Evaluates `model`, which must be the model of the call before changed only by the
  /// batches noted since: the ratings of their users and items and of ids new to the
  /// model are predicted again, the others keep b_u + b_i + u . p from before (mu moves
  /// every batch and is added to all). The same values as operator(), bit for bit; the
  /// first call, and a call with a model whose id maps are not the last one's, evaluate in
  /// full.
  error_metrics update(const factor_model& model);

 private:
  /// Indices of another id map (a training table's) -> indices of the test set's.
  struct translation {
    std::uint64_t tag = 0;
    std::vector<index_t> to_test;
    void follow(const id_map& from, const id_map& test);
  };
  void mark(std::vector<std::uint8_t>& dirty, std::vector<index_t>& list, index_t t);
  /// The cores of the entries `jobs`, or of every entry if `all`.
  void predict(const factor_model& model, std::span<const std::uint32_t> jobs, bool all);
  error_metrics finish(const factor_model& model);

  const id_map* users_;
  const id_map* items_;
  std::vector<entry> entries_;
  changed_ratings changed_;  ///< entries_ by user and by item (built by the first update())
  std::vector<index_t> user_model_, item_model_;  ///< table index -> model index (cache)
  std::vector<double> cores_;                     ///< b_u + b_i + u . p, by rating position
  std::vector<float> truth_;                      ///< the ratings' values, by position
  std::vector<std::uint32_t> jobs_;               ///< entries to predict this call
  // update(): what the cache was built for, and what changed since.
  bool primed_ = false;
  std::uint64_t user_tag_ = 0, item_tag_ = 0;       ///< the model's id maps
  index_t users_seen_ = 0, items_seen_ = 0;         ///< model ids resolved so far
  std::vector<std::uint8_t> user_dirty_, item_dirty_;  ///< by test-table index
  std::vector<index_t> dirty_users_, dirty_items_;
  translation from_users_, from_items_;
};

/// RMSE/MAE of predictions against truths (equal lengths).
error_metrics error_of(std::span<const double> predictions, std::span<const double> truths);

}  // namespace recflow
