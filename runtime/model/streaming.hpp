/// Streaming ALS, the single-threaded reference of what the actor graph runs: the model
/// is updated micro-batch by micro-batch with summed per-key gradient steps.
///
/// Semantics of `streaming_trainer::apply(batch, users, items)`, exactly:
///  1. The batch is folded into the running mean (`factor_model::observe_mean`); mu is
///     the mean of every rating seen so far, and the errors below use the new mu.
///  2. In batch order, each rating's user and item are mapped to model indices by
///     external id; an id new to the model is added once (bias 0, factors
///     `initial_factors(seed, side, id, init_stddev)`), and every rating increments its
///     user's and item's count. Users and items absent from the batch are not touched.
///  3. `passes` passes over the batch (see `update_mode`), then the batch is done.
///
/// batch_gradient pass, in floating point as computed here (what a partitioned graph
/// must do to agree bit for bit):
///  - error of rating k (all k against the parameters at the start of the pass):
///    e_k = r_k - (((mu + b_u) + b_i) + dot(U_u, P_i))    (`stream_kernel::error_of`)
///  - per user u, summed over the batch's ratings of u IN BATCH ORDER, starting from 0:
///    G_bu = sum e_k,  G_Uu = sum e_k * P_i     (one add per rating, in that order)
///    and the same for items: G_bi = sum e_k,  G_Pi = sum e_k * U_u.
///  - each touched key is then updated once, with n its number of ratings in the batch
///    (regularisation summed per rating, i.e. n times, applied in closed form):
///    b  <- b + gamma_bias * (G_b - (n * lambda_bias) * b)
///    x  <- x + gamma * (G_x - (n * lambda) * x)           (`stream_kernel::apply_step`)
///    This equals the per-rating sums sum(e - lambda_bias*b) and sum(e*P_i - lambda*U_u)
///    in exact arithmetic.
/// A graph that sends each rating's contributions to the key's owner tagged with the
/// rating's batch position, and sums them in that order, reproduces this bit for bit
/// when it calls the kernels below from the same build (same compiler flags: SIMD width
/// and FMA contraction change rounding). Summing in any other order, or on another
/// build, agrees within ~1e-12 relative per batch (floating-point reassociation only).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "model/error.hpp"
#include "model/model.hpp"

namespace recflow {

/// How a micro-batch updates the model.
enum class update_mode {
  /// For each pass: every rating's error against one snapshot of the model; gradients
  /// summed per user and per item; each sum applied once (the graph's semantics).
  batch_gradient,
  /// Classic biased SGD (B-SGD): one rating at a time, updating as it goes.
  sgd,
};

/// Parameters of streaming training, with the shipped defaults. The defaults were tuned
/// on ml-latest-small (80/20 random_split seed 42, batches of 1,000 in random order, from
/// an empty model): final validation RMSE 0.868 (split/order seeds 1, 2, 3: 0.873, 0.866,
/// 0.878), worst after batch 40 below 0.905. Rank 10 matches als_params' default, so a
/// default ALS model can seed a default trainer; ranks 20/50/100 reach ~0.865/0.862/0.860.
/// Steps are summed per key over a batch, so a key with n ratings in one batch moves about
/// n times as far as with one: keep gamma_bias * n (and gamma * n * |x|^2) well below 2 for
/// the heaviest key of a batch (with these defaults, batches up to ~10,000 ratings of
/// ml-latest-small are stable; 20,000 are not).
struct stream_params {
  int rank = 10;
  double gamma = 0.03;        ///< learning rate of the factors
  double gamma_bias = 0.005;  ///< learning rate of the biases
  double lambda = 0.04;       ///< regularisation of the factors (per rating)
  double lambda_bias = 0.01;  ///< regularisation of the biases (per rating)
  int passes = 6;             ///< passes over each micro-batch
  update_mode mode = update_mode::batch_gradient;
  std::uint64_t seed = 42;    ///< new ids get initial_factors(seed, side, id, init_stddev)
  double init_stddev = 0.02;  ///< small: the factors grow from near zero as data arrives
};

/// "rank must be positive, got 0" and friends; empty result when the parameters are fine.
result<void> validate(const stream_params& p);

/// The arithmetic of one rating and one key, shared by the trainer and the graph's
/// actors so that both round identically.
namespace stream_kernel {

/// e = r - (((mu + b_u) + b_i) + dot(u, p)), the same expression as raw_predict.
inline double error_of(double r, double mu, double b_u, double b_i, const double* u,
                       const double* p, int rank) noexcept {
  Eigen::Map<const Eigen::VectorXd> uu(u, rank), pp(p, rank);
  return r - (mu + b_u + b_i + uu.dot(pp));
}

/// g += e * x (one rating's contribution to a summed factor gradient).
inline void accumulate(double* g, double e, const double* x, int rank) noexcept {
  Eigen::Map<Eigen::VectorXd>(g, rank).noalias() += e * Eigen::Map<const Eigen::VectorXd>(x, rank);
}

/// Applies a summed step to one key and clears its sums: b += gamma_bias * (g_b -
/// (n * lambda_bias) * b); x += gamma * (g_x - (n * lambda) * x); g_b = 0; g_x = 0.
inline void apply_step(double& b, double* x, double& g_b, double* g_x, double n, int rank,
                       const stream_params& p) noexcept {
  b += p.gamma_bias * (g_b - (n * p.lambda_bias) * b);
  g_b = 0.0;
  Eigen::Map<Eigen::VectorXd> xx(x, rank), gg(g_x, rank);
  xx += p.gamma * (gg - (n * p.lambda) * xx);
  gg.setZero();
}

/// One B-SGD step for a rating with error e: b_u += gb(e - lb*b_u); b_i += gb(e - lb*b_i);
/// u += g(e*p - l*u); p += g(e*u_old - l*p).
inline void sgd_step(double e, double& b_u, double& b_i, double* u, double* p, int rank,
                     const stream_params& s) noexcept {
  b_u += s.gamma_bias * (e - s.lambda_bias * b_u);
  b_i += s.gamma_bias * (e - s.lambda_bias * b_i);
  for (int k = 0; k < rank; ++k) {
    double uk = u[k], pk = p[k];
    u[k] = uk + s.gamma * (e * pk - s.lambda * uk);
    p[k] = pk + s.gamma * (e * uk - s.lambda * pk);
  }
}

}  // namespace stream_kernel

/// Updates a model batch by batch. Owns the model. Construct through `make` to get
/// errors as values; the constructors throw std::invalid_argument with the same message
/// when the parameters are invalid or the seed model's rank differs from p.rank.
class streaming_trainer {
 public:
  /// Starts from an empty model on `scale`.
  streaming_trainer(const stream_params& p, rating_scale scale);
  /// Starts from a trained model (e.g. batch ALS); its rank must equal p.rank.
  streaming_trainer(const stream_params& p, factor_model seed_model);

  /// Checked construction: an empty model on `scale`, or the error of validate(p).
  static result<streaming_trainer> make(const stream_params& p, rating_scale scale);
  /// Checked construction from a trained model ("seed model has rank 8, params say 10").
  static result<streaming_trainer> make(const stream_params& p, factor_model seed_model);

  /// Applies one micro-batch whose indices live in the id space (`users`, `items`):
  /// folds the ratings into the running mean, adds new ids, then runs the passes (see
  /// the file comment). Fails, leaving the model unchanged, if a rating's index is
  /// outside the id maps. Translations from table to model indices are cached across
  /// calls (and checked by external id, so any id space may be passed).
  result<void> apply(std::span<const rating> batch, const id_map& users, const id_map& items);

  const factor_model& model() const noexcept { return model_; }
  factor_model& model() noexcept { return model_; }
  const stream_params& params() const noexcept { return params_; }
  std::uint64_t batches() const noexcept { return batches_; }

 private:
  /// Dense working copies of the keys one side touches in the current batch.
  struct touched {
    std::vector<index_t> slot_of;  ///< model index -> slot, id_map::npos if untouched
    std::vector<index_t> keys;     ///< slot -> model index, in order of first appearance
    std::vector<double> bias, factors, g_bias, g_factors, count;
    index_t slot(index_t key, const std::vector<double>& model_bias, const factor_table& f);
    void write_back(std::vector<double>& model_bias, factor_table& f);
  };
  /// One rating of the batch in slot indices.
  struct entry {
    index_t u, i;
    double r;
  };

  index_t to_model(side s, index_t table_index, const id_map& table_ids);
  void batch_gradient_pass();
  void sgd_pass();

  stream_params params_;
  factor_model model_;
  std::uint64_t batches_ = 0;
  std::vector<index_t> user_xlate_, item_xlate_;  ///< table index -> model index (cache)
  touched users_, items_;
  std::vector<entry> entries_;
};

}  // namespace recflow
