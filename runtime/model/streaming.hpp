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
///     (Rated items are not recorded: a seed model's rated-items index keeps what it had,
///     with empty rows for new users.)
///  3. `passes` passes over the batch (see `update_mode`), then the batch is done.
///
/// batch_gradient pass, in floating point as computed here (what a partitioned graph
/// must do to agree bit for bit):
///  - error of rating k (all k against the parameters at the start of the pass):
///    e_k = r_k - (((mu + b_u) + b_i) + dot(U_u, P_i))    (`ops::error_of`)
///  - per user u, summed over the batch's ratings of u IN BATCH ORDER, starting from 0:
///    G_bu = sum e_k,  G_Uu = sum e_k * P_i     (one add per rating, in that order)
///    and the same for items: G_bi = sum e_k,  G_Pi = sum e_k * U_u.
///  - each touched key is then updated once, with n its number of ratings in the batch
///    (regularisation summed per rating, i.e. n times, applied in closed form):
///    b  <- b + gb_n * (G_b - (n * lambda_bias) * b)
///    x  <- x + g_n * (G_x - (n * lambda) * x)             (`ops::apply_step`)
///    with g_n = gamma, or max_step / n if gamma * n > max_step (gb_n likewise from
///    gamma_bias). Without the cap this is exactly the per-rating sums
///    sum(e - lambda_bias*b) and sum(e*P_i - lambda*U_u) applied with gamma_bias, gamma.
/// A graph that sends each rating's contributions to the key's owner tagged with the
/// rating's batch position, and sums them in that order, reproduces this bit for bit when
/// it calls the kernels of stream_kernel.hpp (chosen by `with_rank`, or the runtime-rank
/// wrappers below). Their order of operations does not depend on the SIMD width, so this
/// holds across builds and across the ISA clones chosen at load time, as long as the
/// build does not contract a * b + c into FMAs (CMakeLists.txt sets -ffp-contract=off).
/// Summing in another order only reassociates float sums of a few dozen terms; the tests
/// check bit equality for batch order and 1e-6 of the largest value for reversed order.
#pragma once

#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/stream_kernel.hpp"

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
/// an empty model): final validation RMSE 0.868, worst after batch 40 0.893 (split and
/// order seeds 1, 2, 3: 0.873, 0.866, 0.878; worst after batch 40 at most 0.905); sgd mode
/// gives the same to 1e-3; MovieLens 100K u1.base/u1.test: 0.962. Rank 10 matches
/// als_params' default, so a default ALS model can seed a default trainer; ranks
/// 20/50/100 reach 0.865/0.862/0.860.
/// Steps are summed per key over a batch, so a key with n ratings in one batch would move
/// n times as far as with one and diverge once gamma_bias * n passes 2 (a user's session
/// in time order, or big batches). `max_step` caps rate x n at 1: a bias then moves at
/// most to its mean residual (a damped Newton step), a factor row likewise while its
/// |x|^2 stays below 1. In time order ml-latest-small then ends at 0.908 instead of 1.038
/// (sgd mode: 0.888), batches of 20,000 at 0.882 instead of 1.037; random order with
/// batches of 1,000 moves by less than 1e-4 (the cap binds only for the heaviest users).
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
  /// batch_gradient only: a key with n ratings in a batch uses the rate min(gamma,
  /// max_step / n) (and likewise gamma_bias), so heavy keys step by at most max_step
  /// times their mean gradient instead of diverging; 0 turns the cap off.
  double max_step = 1.0;
};

/// "rank must be positive, got 0" and friends; empty result when the parameters are fine.
result<void> validate(const stream_params& p);

/// The learning rates and regularisation of `p`, as the kernels take them.
inline stream_kernel::rates rates_of(const stream_params& p) noexcept {
  return {p.gamma, p.gamma_bias, p.lambda, p.lambda_bias, p.max_step};
}

/// Runtime-rank entry points to the kernels of stream_kernel.hpp: each picks the kernel
/// the trainer uses for `rank` (so results agree with it bit for bit), at the cost of one
/// switch per call; hot loops call `with_rank` once and use the `ops` directly.
namespace stream_kernel {

/// e = r - (((mu + b_u) + b_i) + dot(u, p)).
inline double error_of(double r, double mu, double b_u, double b_i, const float* u,
                       const float* p, int rank) noexcept {
  return with_rank(rank, [&](const auto& o) { return o.error_of(r, mu, b_u, b_i, u, p); });
}
/// g += float(e) * x.
inline void accumulate(float* g, double e, const float* x, int rank) noexcept {
  with_rank(rank, [&](const auto& o) { o.accumulate(g, e, x); });
}
/// The summed step of one key with n ratings in the batch; clears the sums.
inline void apply_step(double& b, float* x, double& g_b, float* g_x, double n, int rank,
                       const stream_params& p) noexcept {
  with_rank(rank, [&](const auto& o) { o.apply_step(b, x, g_b, g_x, n, rates_of(p)); });
}
/// One B-SGD step for a rating with error e.
inline void sgd_step(double e, double& b_u, double& b_i, float* u, float* p, int rank,
                     const stream_params& s) noexcept {
  with_rank(rank, [&](const auto& o) { o.sgd_step(e, b_u, b_i, u, p, rates_of(s)); });
}

/// Copies the rows of `keys` (rank floats each, row `key` of `table`) and their biases
/// into a working set: slot s (the position in `keys`) gets its row at work + s * stride
/// and its bias at work_bias[s]. The rows of keys a few ahead are prefetched (tables are
/// larger than the caches); one fixed-rank loop per batch, cloned per ISA. The reference
/// trainer and the owners both gather and write back through these two.
void gather_rows(std::span<const index_t> keys, std::size_t stride, float* work,
                 double* work_bias, const double* bias, const float* table, int rank);
/// The way back: each slot's row and bias into row `key` of `table` and `bias`.
void scatter_rows(std::span<const index_t> keys, std::size_t stride, const float* work,
                  const double* work_bias, double* bias, float* table, int rank);

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
  /// calls while the id maps keep their index assignment (id_map::tag), so any id space
  /// may be passed.
  result<void> apply(std::span<const rating> batch, const id_map& users, const id_map& items);

  const factor_model& model() const noexcept { return model_; }
  factor_model& model() noexcept { return model_; }
  const stream_params& params() const noexcept { return params_; }
  std::uint64_t batches() const noexcept { return batches_; }

 private:
  /// std::allocator with 64-byte (cache line) alignment, so that a row of whole lines
  /// starts a cache line and a prefetch of its lines covers it exactly.
  template <class T>
  struct line_allocator {
    using value_type = T;
    line_allocator() = default;
    template <class U>
    line_allocator(const line_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
      return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{64}); }
    friend bool operator==(const line_allocator&, const line_allocator&) = default;
  };
  template <class T>
  using lines = std::vector<T, line_allocator<T>>;

  /// Dense working copies of the keys one side touches in the current batch, by slot (in
  /// order of first appearance): factor rows in rows of `stride` floats (rank, padded to
  /// whole cache lines) and biases. A rating reads one compact row of the other side. The
  /// tables keep their rows across batches (sized for the largest batch so far), so a batch
  /// allocates and clears nothing.
  struct touched {
    std::size_t rank = 0;
    std::size_t stride = 0;        ///< rank rounded up to a cache line (16 floats)
    std::vector<index_t> slot_of;  ///< model index -> slot, id_map::npos if untouched
    std::vector<index_t> keys;     ///< slot -> model index
    lines<float> factors;          ///< rows of `stride` floats, the first keys.size() used
    std::vector<double> bias;      ///< by slot
    /// The users' rows after the current pass (batch_gradient writes them here while the
    /// item side still reads the rows the pass began with), rows of `stride` floats.
    lines<float> next;
    std::vector<double> count;     ///< ratings of each slot's key in the batch
    /// Room for `max_keys` keys (a batch of n ratings touches at most n per side).
    void reset(int rank, std::size_t max_keys);
    /// Slot of key, giving it the next one on first sight (its row is gathered later).
    index_t slot(index_t key) {
      if (key >= slot_of.size())
        slot_of.resize(std::size_t(key) + 1 + slot_of.size() / 2, id_map::npos);
      auto& s = slot_of[key];
      if (s == id_map::npos) {
        s = static_cast<index_t>(keys.size());
        keys.push_back(key);
        count[s] = 0.0;
      }
      return s;
    }
    /// Asks for the cache line of key's slot (a hint for slot(key) a few keys later).
    void prefetch_slot(index_t key) const noexcept {
      if (key < slot_of.size())
        __builtin_prefetch(slot_of.data() + key);
    }
    /// Copies every key's parameters into its working row.
    void gather(const std::vector<double>& model_bias, const factor_table& f);
    /// Copies the parameters back into the model, adds each key's ratings to its count
    /// and forgets the keys.
    void write_back(std::vector<double>& model_bias, factor_table& f,
                    std::vector<std::uint32_t>& model_count);
  };
  /// One rating of the batch: its user's and item's slots and its value.
  struct entry {
    index_t u, i;
    float r;
  };
  /// One rating in item order: its item's and user's slots and its position in by_user_.
  struct item_entry {
    index_t i, u, k;
  };

  /// Table index -> model index of one side, cached across batches while neither the
  /// caller's id map nor the model's changes its index assignment (id_map::tag).
  struct translation {
    std::vector<index_t> model_of;  ///< by table index, id_map::npos if not yet seen
    std::uint64_t table_tag = 0, model_tag = 0;
    /// Forgets every translation if `table_ids` or `model_ids` is not the map it was.
    void check(const id_map& table_ids, const id_map& model_ids);
  };
  /// The model index of a table index, adding the id to the model on first sight.
  index_t to_model(side s, index_t table_index, const id_map& table_ids) {
    const auto& xlate = (s == side::user ? user_xlate_ : item_xlate_).model_of;
    if (table_index < xlate.size() && xlate[table_index] != id_map::npos)
      return xlate[table_index];
    return add_to_model(s, table_index, table_ids);
  }
  index_t add_to_model(side s, index_t table_index, const id_map& table_ids);
  /// Orders the batch by user and by item (stable counting sorts: each key's ratings stay
  /// in batch order) for the batch-gradient passes.
  void group_batch();
  /// The batch's passes over the working records (the hot loop; one clone per ISA).
  RECFLOW_VECTOR_LOOP void run_passes();
  template <class Ops>
  void batch_gradient_pass(const Ops& ops);
  template <class Ops>
  void sgd_pass(const Ops& ops);

  stream_params params_;
  factor_model model_;
  std::uint64_t batches_ = 0;
  translation user_xlate_, item_xlate_;
  touched users_, items_;
  // Working vectors of the current batch, kept across batches (no allocation per batch
  // once they have grown).
  std::vector<entry> entries_;         ///< batch order
  std::vector<entry> by_user_;         ///< grouped by user slot, batch order within a user
  std::vector<item_entry> by_item_;    ///< grouped by item slot, batch order within an item
  std::vector<double> errors_;         ///< this pass's error of by_user_[k]
  lines<float> sums_;                  ///< one key's factor gradient sum (rank floats), zero between keys
  std::vector<index_t> at_, pos_;      ///< counting sort: group starts; by_user_ position
};

}  // namespace recflow
