/// Batch ALS for implicit feedback (Hu, Koren and Volinsky 2008), as Spark MLlib's
/// ALS.trainImplicit(ratings, rank, iterations, lambda, alpha).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How an event's weight w becomes the confidence c of the preference p = 1.
enum class confidence_form {
  linear,  ///< c = 1 + alpha * w (the paper's first form; Spark's)
  log,     ///< c = 1 + alpha * log(1 + w / epsilon) (the paper's second form)
};

/// How the events' weights are reweighted (on the training events alone) before they
/// become confidences, as the `implicit` library's `bm25_weight` and `tfidf_weight`, with
/// the items as the documents and the users as the terms.
enum class event_weighting {
  none,   ///< w as read
  bm25,   ///< w (k1 + 1) / (k1 ((1 - b) + b L_i / mean L) + w) * idf_u
  tfidf,  ///< sqrt(w) * idf_u
};

/// How each user's (or item's) k x k system is solved.
enum class implicit_solver {
  cholesky,  ///< exact: build the system and factor it (Cholesky), O(n k^2 + k^3)
  cg,        ///< `cg_steps` conjugate-gradient steps warm-started from the current row
             ///< (Takacs et al. 2011, as the `implicit` library does), O(cg_steps n k + k^2)
};

/// Parameters of implicit ALS, with the shipped defaults.
///
/// For every user u and item i, p_ui = 1 when u has an event on i (weight w_ui > 0) and 0
/// otherwise, with confidence c_ui = 1 + alpha * w_ui (or the log form) where there is an
/// event and 1 elsewhere. ALS minimises sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2
/// + reg_u |x_u|^2 + reg_i |y_i|^2 with reg = lambda * n^lambda_exponent for an entity with
/// n events (exponent 0: the `implicit` library's plain lambda; 1: Spark's, which scales
/// lambda by the number of events). There are no biases: the model's mu and biases stay 0,
/// so its score of (u, i) is x_u . y_i.
///
/// Each event's weight is first multiplied by a recency factor (see recency_boost: the
/// user's latest events weigh up to 1 + recency_boost times more), then optionally
/// reweighted (`weighting`), then turned into a confidence.
///
/// The defaults were chosen on MovieLens 100K with every rating as an event of weight 1
/// (the NCF paper's conversion), leave-latest-out, 100 sampled negatives, looking at the
/// mean HR@10 over seeds 42, 1, 2 and 3 and at ml-latest-small beside it
/// (docs/implicit.md): rank 32, lambda 50, alpha 3, recency boost 10 with a half-life of 5
/// events reach HR@10 0.711, NDCG@10 0.436 at seed 42 (popularity 0.424), 0.69..0.71 over
/// seeds 1..3, and 0.767 on ml-latest-small. Without recency (boost 0) the best of rank
/// 10..64, lambda 0.1..100, alpha 1..30, lambda exponent 0..1, log confidence, BM25 or
/// TF-IDF weighting and popularity-weighted missing pairs stayed at or below 0.683.
struct implicit_params {
  int rank = 32;                ///< factor dimension k
  int iterations = 15;          ///< user-then-item sweeps
  double lambda = 50.0;         ///< factor regularisation
  double lambda_exponent = 0.0; ///< reg = lambda * n^exponent (0: plain lambda)
  double alpha = 3.0;           ///< confidence scale
  confidence_form confidence = confidence_form::linear;
  double epsilon = 1.0;         ///< weight scale of the log form
  implicit_solver solver = implicit_solver::cholesky;
  int cg_steps = 3;             ///< conjugate-gradient steps per solve (solver cg)
  std::uint64_t seed = 42;      ///< initial factors come from initial_factors(seed, ...)
  double init_stddev = 0.01;    ///< stddev of the initial factors
  event_weighting weighting = event_weighting::none;
  double bm25_k1 = 100.0;       ///< BM25 saturation
  double bm25_b = 0.8;          ///< BM25 length normalisation, 0..1
  /// Weight of a pair without an event on item i: proportional to n_i^exponent (its
  /// training events), normalised to mean 1 over the items (0: 1 everywhere, as HKV).
  double missing_exponent = 0.0;
  /// Recent events weigh more: an event's weight is multiplied by 1 + recency_boost *
  /// 2^(-a / recency_half_life), a the number of the user's training events strictly later
  /// than it (0: no recency weighting; events without timestamps all count as latest).
  double recency_boost = 10.0;
  double recency_half_life = 5.0;  ///< in events
};

/// The events' weights reweighted in place as `p.weighting` says, the same in both
/// directions of `blocks` (statistics from `blocks` alone).
void apply_event_weighting(rating_blocks& blocks, const implicit_params& p);

/// The recency factor of an event with `later` of its user's events strictly later than
/// it: 1 + recency_boost * 2^(-later / recency_half_life).
double recency_factor(const implicit_params& p, std::size_t later) noexcept;

/// The events' weights (`rating::value`) multiplied by their recency factor (see
/// implicit_params::recency_boost); the timestamps order each user's events.
void apply_recency(std::span<rating> events, const implicit_params& p);

/// The weight of the missing pairs of each item of `blocks` (all 1 for exponent 0).
std::vector<double> missing_weights(const rating_blocks& blocks, const implicit_params& p);
/// The same from each item's number of training events (a model's item_count()):
/// counts[i]^exponent, normalised to mean 1; all 1 for exponent 0 (or no events at all).
std::vector<double> missing_weights(std::span<const std::uint32_t> counts, double exponent);

/// "alpha must be non-negative and finite, got -1" and friends; empty when fine.
result<void> validate(const implicit_params& p);

/// The confidence of an event of weight `w` (at least 1 for w >= 0).
double confidence(const implicit_params& p, double w) noexcept;

/// The regularisation of an entity with `n` events: lambda * n^lambda_exponent.
double regularisation(const implicit_params& p, std::size_t n) noexcept;

/// What every implicit ALS trainer starts from (the reference and the blocks of the
/// graph): the events' weights multiplied by their recency factor and reweighted, grouped
/// both ways, and the seeded initial model (no mean, no biases, scale 0..1, counts; no
/// rated-items index yet). "event weights must be positive and finite, got -1" and the
/// checks of als_training_blocks.
struct implicit_training_set {
  rating_blocks blocks;
  factor_model initial;
};
result<implicit_training_set> implicit_training(const rating_table& events,
                                                const implicit_params& p);

/// Solves one entity of implicit ALS against the other side's factors Y, whose Gram
/// matrix Y^T Y is computed once per half sweep by `prepare`, so that a solve costs the
/// entity's own events: A = Y^T Y + sum over its events (c - 1) y y^T + reg I,
/// b = sum over its events c y. Holds scratch buffers; reuse one solver for many
/// entities, not from several threads.
class implicit_als_solver {
 public:
  explicit implicit_als_solver(const implicit_params& p);

  /// Computes Y^T Y of every row of `other`, exactly (exact_gram.hpp: the same bits for
  /// any order or split of the rows, so the blocks of the graph sum to the reference's);
  /// with `missing` (one weight per row of `other`), Y^T diag(missing) Y in double.
  void prepare(const factor_table& other, std::span<const double> missing = {});

  /// Updates `x` (rank floats) from the entity's events: the other side's indices `others`
  /// and weights `weights` (computed in double, rounded once). Cholesky solves exactly;
  /// CG takes `cg_steps` steps from the current `x`. An entity without events is left.
  /// `self_missing` scales the Gram matrix (the entity is an item whose missing pairs
  /// weigh that much); the missing weights of `prepare` apply to the events' corrections.
  void solve(std::span<const index_t> others, std::span<const float> weights,
             const factor_table& other, std::span<float> x, double self_missing = 1.0);

  /// Takes `gram` (rank x rank, both triangles) as Y^T Y instead of computing it, every
  /// missing weight 1: a stream and the blocks of the graph keep their Gram matrices
  /// themselves (exact_gram.hpp).
  void use_gram(const Eigen::MatrixXd& gram) {
    gram_ = gram;
    missing_.clear();
  }

  /// The prepared Y^T Y.
  const Eigen::MatrixXd& gram() const noexcept { return gram_; }
  const implicit_params& params() const noexcept { return p_; }

 private:
  implicit_params p_;
  Eigen::MatrixXd gram_;  // k x k, full
  Eigen::MatrixXd Yt_;    // k x n: the entity's other rows, one per column
  Eigen::VectorXd c_;     // n confidences
  Eigen::MatrixXd A_;
  Eigen::VectorXd b_, z_, r_, d_, Ad_, s_, m_;
  std::vector<double> work_;  // the Cholesky factor
  std::vector<double> missing_;  // of the other side's rows, empty when all 1
};

/// Solves every row of `rows` against `other`: one half of an implicit ALS sweep.
/// `other_missing` / `self_missing`: the missing weights of the other side's rows (user
/// sweeps) or of `rows` (item sweeps); empty when all 1.
void implicit_half_sweep(const rating_csr& rows, const factor_table& other,
                         factor_table& self, implicit_als_solver& solver,
                         std::span<const double> other_missing = {},
                         std::span<const double> self_missing = {});

/// The implicit ALS objective of `m` (compact indices of `blocks`, events' weights as the
/// values): the confidence-weighted squared errors over every (user, item) pair, counted
/// through Y^T Y without visiting the pairs without events, plus the regularisation.
double implicit_objective(const factor_model& m, const rating_blocks& blocks,
                          const implicit_params& p);

/// Trains on every event of `events` (weights in `rating::value`, one per pair: see
/// merge_events; a repeated pair counts as two events). The model holds exactly the
/// users and items with events; mu and the biases are 0, the scale 0..1 (preferences);
/// counts and the rated-items index come from the events. `progress` gets the objective
/// after each sweep.
result<factor_model> train_implicit_als(const rating_table& events, const implicit_params& p,
                                        const als_progress& progress = {});

}  // namespace recflow
