/// Ranking metrics of a model's top-k lists on held-out ratings, as Spark's
/// RankingEvaluator (mllib RankingMetrics) defines them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// Which lists to score, with defaults.
struct ranking_options {
  std::size_t k = 10;       ///< length of each user's ranked list (the "@k")
  /// A held-out rating is relevant when its value is >= this (4.0 on MovieLens's 1..5
  /// scale: "liked"; Spark leaves the choice of labels to the caller).
  double relevance = 4.0;
};

/// "k must be positive" and friends; empty result when the options are fine.
result<void> validate(const ranking_options& o);

/// Ranking metrics averaged over users.
///
/// For one user with ranked list R (R_1 best, at most k items are looked at: n = min(|R|, k))
/// and relevant set L (non-empty), with rel_j = 1 when R_j is in L and 0 otherwise:
///
/// - precision@k = (sum_{j<=n} rel_j) / k. Divided by k even when fewer than k items could
///   be ranked (Spark's precisionAt).
/// - recall@k    = (sum_{j<=n} rel_j) / |L|.
/// - NDCG@k      = DCG / IDCG with binary gains and a log2 discount:
///   DCG = sum_{j<=n} rel_j / log2(j + 1), IDCG = sum_{j<=min(k,|L|)} 1 / log2(j + 1).
/// - AP@k        = (sum_{j<=n} rel_j * precision@j) / min(k, |L|), precision@j being
///   (hits among R_1..R_j) / j; MAP@k is its mean (Spark's meanAveragePrecisionAt).
///
/// Each is a plain mean over `users`, the users with at least one relevant item (Spark
/// would count a user with none as 0; we leave them out, and report how many there were).
struct ranking_metrics {
  double precision = 0.0;  ///< mean precision@k
  double recall = 0.0;     ///< mean recall@k
  double ndcg = 0.0;       ///< mean NDCG@k
  double map = 0.0;        ///< mean AP@k (MAP@k)
  std::size_t k = 0;       ///< the k of the lists
  std::size_t users = 0;   ///< users averaged over (at least one relevant item)
  std::size_t users_without_relevant = 0;  ///< test users left out: no relevant rating
};

/// The metrics of one ranked list (external item ids, best first) against one user's
/// relevant items (external ids, sorted ascending, no duplicates). `users` is 1, or 0 with
/// every metric 0 when `relevant` is empty.
ranking_metrics ranking_of(std::span<const std::int64_t> ranked,
                           std::span<const std::int64_t> relevant, std::size_t k);

/// Ranks for every user of `test` (indices in the id space `users`, `items`, mapped to
/// the model by external id) the model's top-k items via recommend(): items the user
/// rated in training are excluded through `model.rated()` (fill it, e.g. with
/// rated_in_model(), or nothing is excluded); an unknown user gets the bias ranking
/// recommend() falls back to. A user's relevant items are their test ratings >=
/// `o.relevance`; relevant items the model never saw stay in L but cannot be hit.
ranking_metrics evaluate_ranking(const factor_model& model, std::span<const rating> test,
                                 const id_map& users, const id_map& items,
                                 const ranking_options& o = {});

/// Same, for a table.
inline ranking_metrics evaluate_ranking(const factor_model& model, const rating_table& test,
                                        const ranking_options& o = {}) {
  return evaluate_ranking(model, test.ratings, test.users, test.items, o);
}

}  // namespace recflow
