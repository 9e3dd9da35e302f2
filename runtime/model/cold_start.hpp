/// Cold start: what a user the model knows nothing about is recommended.
#pragma once

#include <span>
#include <vector>

#include "recflow/model/model.hpp"
#include "recflow/model/recommend.hpp"

namespace recflow {

/// How cold-start items are ranked, with defaults. The score of a known item i with n_i
/// training ratings is
///   mu + b_i * n_i / (n_i + shrink) + popularity * log(1 + n_i)
/// so that an item whose high bias rests on a handful of ratings does not top the list,
/// and items many people rated rank higher. Predictions for an unknown user stay
/// mu + b_i (see factor_model::predict); only the ranking uses this score.
struct cold_start_options {
  double shrink = 25.0;      ///< ratings at which half of b_i counts
  double popularity = 0.1;   ///< weight of log(1 + n_i); 0 ranks by shrunk bias only
};

/// The cold-start score of dense item `i` (see cold_start_options).
double cold_start_score(const factor_model& m, index_t i, const cold_start_options& c = {}) noexcept;

/// The `opts.n` known items with the highest cold-start score, best first (ties by lower
/// index), among `opts.candidates` when given, leaving out `excluded` (sorted dense
/// indices, e.g. what the user already rated).
std::vector<scored_item> cold_start_items(const factor_model& m, const recommend_options& opts = {},
                                          std::span<const index_t> excluded = {},
                                          const cold_start_options& c = {});

}  // namespace recflow
