/// Ranking metrics of a model's top-k lists on held-out ratings, as Spark's
/// RankingEvaluator (mllib RankingMetrics) defines them; and the sampled leave-one-out
/// protocol of the NCF paper (HR@k and NDCG@k against sampled negatives).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/parallel.hpp"

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
/// The users' top-k scans are tasks for `run` (e.g. thread_tasks(workers) of the engine);
/// the metrics do not depend on it.
ranking_metrics evaluate_ranking(const factor_model& model, std::span<const rating> test,
                                 const id_map& users, const id_map& items,
                                 const ranking_options& o = {}, const task_runner& run = {});

/// Same, for a table.
inline ranking_metrics evaluate_ranking(const factor_model& model, const rating_table& test,
                                        const ranking_options& o = {},
                                        const task_runner& run = {}) {
  return evaluate_ranking(model, test.ratings, test.users, test.items, o, run);
}

/// Item popularity as a model, for the popularity baseline of evaluate_ranking: rank 1,
/// every known user's factor 1 and every item's its number of training events or ratings
/// (`m.item_count()`), no mean or biases; the ids, counts and rated-items index of `m`, so
/// the same items are excluded. Ties rank by model index.
factor_model popularity_model(const factor_model& m);

/// What scores the candidates of a sampled ranking.
enum class sampled_ranker {
  model,       ///< the model's score U_u . P_i + mu + b_u + b_i (implicit models: U_u . P_i)
  popularity,  ///< the item's number of training ratings or events (the model's item count)
};

/// The leave-one-out protocol of He et al. 2017 (NCF), with its defaults: each held-out
/// item is ranked among `negatives` items sampled for its user.
struct sampled_ranking_options {
  std::size_t k = 10;            ///< a hit is a rank below k ("@10")
  std::size_t negatives = 100;   ///< sampled items the user has no training event on
  std::uint64_t seed = 42;       ///< the negatives are drawn from (seed, user id)
  sampled_ranker ranker = sampled_ranker::model;
};

/// "k must be positive" and friends; empty when the options are fine.
result<void> validate(const sampled_ranking_options& o);

/// HR@k and NDCG@k of held-out items, averaged over them.
struct sampled_ranking_metrics {
  double hit_rate = 0.0;  ///< HR@k: the fraction of held-out items ranked below k
  double ndcg = 0.0;      ///< NDCG@k: mean 1 / log2(rank + 2) over hits (0 for a miss)
  std::size_t k = 0;
  std::size_t negatives = 0;   ///< negatives asked for per held-out item
  std::size_t held_out = 0;    ///< held-out items scored
  std::size_t unknown = 0;     ///< of which the model never trained on the user or item
                               ///< (scored as misses)
};

/// Scores each held-out rating of `held_out` (indices in the id space `users`, `items`,
/// mapped to the model by external id; one per user, e.g. leave_latest_out's test part) as
/// NCF does: its item is ranked among `o.negatives` items drawn uniformly without
/// replacement from the model's known items that the user has no training event on
/// (`model.rated()`, which must be filled) and that are not the held-out item itself,
/// seeded by (o.seed, the user's external id), so every ranker and every model sees the
/// same negatives. Its rank is the number of negatives scoring at least as high (ties
/// count against it); a hit when below k, with gain 1 / log2(rank + 2): with one relevant
/// item these are ranking_of's recall@k and NDCG@k. A user with fewer eligible items gets
/// all of them. A held-out user or item unknown to the model is a miss.
sampled_ranking_metrics evaluate_sampled_ranking(const factor_model& model,
                                                 std::span<const rating> held_out,
                                                 const id_map& users, const id_map& items,
                                                 const sampled_ranking_options& o = {});

}  // namespace recflow
