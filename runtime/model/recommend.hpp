/// Top-N recommendations from a model.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/model/model.hpp"

namespace recflow {

struct item_scan_table;
struct top_n_query;

/// One recommended item: dense index, external id and predicted rating.
struct scored_item {
  index_t item = 0;
  std::int64_t external_id = 0;
  double score = 0.0;
};

/// Options of a top-N query.
struct recommend_options {
  std::size_t n = 10;           ///< how many items at most
  bool exclude_rated = true;    ///< drop items the user rated in training (model.rated())
  /// When not empty, only these dense item indices are candidates.
  std::span<const index_t> candidates = {};
  /// A float copy of the item table (top_n.hpp) for scanning every item faster; same
  /// answers. Null: the double scan.
  const item_scan_table* scan = nullptr;
};

/// The rated-items index of `m` for ratings whose indices live in the id space
/// (`users`, `items`), e.g. a training table's, merged with what `m.rated()` already
/// holds (say, from a seed model); ids the model lacks are left out.
rated_items rated_in_model(const factor_model& m, std::span<const rating> rs,
                           const id_map& users, const id_map& items);

/// The top-N query of known dense user `u` (top_n.hpp): its row, mu + b_u, and with
/// `exclude_rated` the items model.rated() lists for it. What recommend() scans with.
top_n_query user_query(const factor_model& m, index_t u, bool exclude_rated);

/// The `n` known items with the highest predicted rating for dense user `u`, best first
/// (ties by lower item index). For an unknown user (never trained on, or out of range)
/// the ranking falls back to mu + b_i, i.e. the items the population rates highest once
/// their bias is regularised. Scores are unclamped so that ties at the top of the scale
/// still rank by the model's preference.
std::vector<scored_item> recommend(const factor_model& m, index_t u,
                                   const recommend_options& opts = {});

}  // namespace recflow
