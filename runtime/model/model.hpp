/// The biased matrix-factorization model r(u,i) = mu + b_u + b_i + U_u . P_i.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// Which side of the model an entity belongs to.
enum class side : std::uint8_t { user = 0, item = 1 };

/// Whether `s` is one of the two sides (a value decoded from another process may not be).
constexpr bool is_side(side s) noexcept { return s == side::user || s == side::item; }
/// "user" or "item".
constexpr const char* to_string(side s) noexcept { return s == side::user ? "user" : "item"; }

/// Where a prediction came from, most informed first. Unknown users or items fall back
/// to biases, then to the global mean; every prediction is clamped to the rating scale.
enum class prediction_source : std::uint8_t {
  full,       ///< both known: mu + b_u + b_i + U_u . P_i
  user_bias,  ///< item unknown: mu + b_u
  item_bias,  ///< user unknown: mu + b_i
  mean,       ///< neither known: mu
};

/// Seeded initial factor vector for one entity: N(0, stddev^2) draws from a generator
/// keyed by (seed, side, external id), so every process and partition that first sees an
/// id gives it the same vector, whatever the order of arrival (drawn in double, stored
/// rounded to float).
void initial_factors(std::uint64_t seed, side s, std::int64_t external_id, double stddev,
                     std::span<float> out) noexcept;

/// One side of a prediction: an entity's bias and factor row, or unknown (null row).
struct known_row {
  double bias = 0.0;
  const float* factors = nullptr;  ///< rank floats; null: the entity is unknown
  bool known() const noexcept { return factors != nullptr; }
};

/// The clamped prediction of factor_model::predict from rows held anywhere (a model, the
/// shards of an actor graph): mu + (b_u + b_i + u . p) when both are known, else mu + b_u,
/// mu + b_i or mu; mu when the sum is not finite. u . p is stream_kernel::ops::dot (float
/// partial sums in a fixed order), added in double; mu comes last, so an evaluator can keep
/// the part in brackets while mu moves. Every evaluator computes this (predict_errors.hpp
/// runs the same code over many ratings), so a graph's validation error equals the
/// reference's bit for bit.
double predict_rows(double mu, const rating_scale& scale, known_row user, known_row item,
                    int rank) noexcept;

/// For each user, the items they rated in training (compressed rows); used to exclude
/// seen items from recommendations.
struct rated_items {
  std::vector<std::uint64_t> offsets;  ///< size users+1 (empty when not recorded)
  std::vector<index_t> items;          ///< sorted within each user

  bool empty() const noexcept { return offsets.empty(); }
  std::span<const index_t> of(index_t user) const noexcept {
    if (user + 1 >= offsets.size())
      return {};
    return {items.data() + offsets[user], items.data() + offsets[user + 1]};
  }
  /// Builds the index from ratings over `n_users` users (duplicates removed).
  static rated_items build(std::span<const rating> rs, index_t n_users);
};

/// A dense table of factor vectors, one row of `rank` floats per entity, stored
/// contiguously in a std::vector so that adding entities one by one is amortised O(1).
///
/// Factors are stored in single precision, as Spark's ALS and LibMF store them: half the
/// bytes of double, so half the memory traffic when a batch gathers its rows. Streaming
/// updates also compute in float what LibMF computes in float (dot products, per-key
/// factor gradient sums, factor steps; stream_kernel.hpp), while biases, errors, bias
/// sums, the running mean and ALS's normal equations stay in double. A whole batch then
/// agrees with the same batch computed in double within 1e-5 of the largest factor (also
/// for a key with 5,000 ratings in the batch: tests/test_stream_precision.cpp), and the
/// accuracy tests check that the RMSE figures did not move (MovieLens 100K ALS 0.9093,
/// ml-latest-small streaming 0.8682, the same to four digits as with double storage).
class factor_table {
 public:
  using row_map = Eigen::Map<Eigen::VectorXf>;
  using const_row_map = Eigen::Map<const Eigen::VectorXf>;

  factor_table() = default;
  explicit factor_table(int rank) : rank_(rank) {}
  int rank() const noexcept { return rank_; }
  index_t rows() const noexcept {
    return rank_ == 0 ? 0 : static_cast<index_t>(data_.size() / static_cast<std::size_t>(rank_));
  }
  row_map row(index_t r) noexcept { return row_map(data_.data() + std::size_t(r) * rank_, rank_); }
  const_row_map row(index_t r) const noexcept {
    return const_row_map(data_.data() + std::size_t(r) * rank_, rank_);
  }
  std::span<float> row_span(index_t r) noexcept {
    return {data_.data() + std::size_t(r) * rank_, std::size_t(rank_)};
  }
  std::span<const float> row_span(index_t r) const noexcept {
    return {data_.data() + std::size_t(r) * rank_, std::size_t(rank_)};
  }
  void resize(index_t rows) { data_.resize(std::size_t(rows) * rank_, 0.0f); }
  /// Room for `rows` rows without reallocating.
  void reserve(index_t rows) { data_.reserve(std::size_t(rows) * rank_); }
  std::vector<float>& data() noexcept { return data_; }
  const std::vector<float>& data() const noexcept { return data_; }
  friend bool operator==(const factor_table&, const factor_table&) = default;

 private:
  int rank_ = 0;
  std::vector<float> data_;
};

/// A trained (or training) model. An entity whose count is 0 has never been trained on
/// and counts as unknown for prediction (it falls back to biases, then mu).
class factor_model {
 public:
  factor_model() = default;
  /// An empty model of the given rank and scale.
  factor_model(int rank, rating_scale scale);

  int rank() const noexcept { return rank_; }
  const rating_scale& scale() const noexcept { return scale_; }
  index_t n_users() const noexcept { return users_.size(); }
  index_t n_items() const noexcept { return items_.size(); }

  /// Global mean and the number of ratings it averages (a running mean when streaming).
  double mu() const noexcept { return mu_; }
  std::uint64_t mu_count() const noexcept { return mu_count_; }
  void set_mu(double mu, std::uint64_t count) noexcept { mu_ = mu; mu_count_ = count; }
  /// Folds `rs` into the running mean.
  void observe_mean(std::span<const rating> rs) noexcept;

  const id_map& users() const noexcept { return users_; }
  const id_map& items() const noexcept { return items_; }

  /// Dense index of an external id, inserting a new entity (bias 0, count 0, factors
  /// from `initial_factors(seed, ...)`) if the id is new.
  index_t add_user(std::int64_t external_id, std::uint64_t seed, double init_stddev);
  /// Room for `users` users and `items` items (ids, biases, counts, factors) without
  /// reallocating: a trainer that knows how many ids its input can name reserves them, so
  /// its tables do not copy themselves as they grow. Grows at least twofold when it grows.
  void reserve(std::size_t users, std::size_t items);
  index_t add_item(std::int64_t external_id, std::uint64_t seed, double init_stddev);

  bool user_known(index_t u) const noexcept { return u < n_users() && user_count_[u] > 0; }
  bool item_known(index_t i) const noexcept { return i < n_items() && item_count_[i] > 0; }

  /// Clamped prediction for dense indices (an out-of-range index counts as unknown).
  double predict(index_t u, index_t i, prediction_source* source = nullptr) const noexcept;
  /// Unclamped mu + b_u + b_i + U_u . P_i for two in-range indices (training use).
  double raw_predict(index_t u, index_t i) const noexcept {
    return mu_ + user_bias_[u] + item_bias_[i]
           + U_.row(u).cast<double>().dot(P_.row(i).cast<double>());
  }
  /// Clamped prediction by external ids, and which fallback was used.
  double predict_external(std::int64_t user, std::int64_t item,
                          prediction_source* source = nullptr) const noexcept;

  // Parameters, for trainers and persistence.
  std::vector<double>& user_bias() noexcept { return user_bias_; }
  std::vector<double>& item_bias() noexcept { return item_bias_; }
  const std::vector<double>& user_bias() const noexcept { return user_bias_; }
  const std::vector<double>& item_bias() const noexcept { return item_bias_; }
  factor_table& U() noexcept { return U_; }
  factor_table& P() noexcept { return P_; }
  const factor_table& U() const noexcept { return U_; }
  const factor_table& P() const noexcept { return P_; }
  std::vector<std::uint32_t>& user_count() noexcept { return user_count_; }
  std::vector<std::uint32_t>& item_count() noexcept { return item_count_; }
  const std::vector<std::uint32_t>& user_count() const noexcept { return user_count_; }
  const std::vector<std::uint32_t>& item_count() const noexcept { return item_count_; }
  rated_items& rated() noexcept { return rated_; }
  const rated_items& rated() const noexcept { return rated_; }

  /// All parameters at once, as persistence reads them.
  struct parts {
    int rank = 0;
    rating_scale scale;
    double mu = 0.0;
    std::uint64_t mu_count = 0;
    id_map users, items;
    std::vector<double> user_bias, item_bias;
    std::vector<float> U, P;  ///< row-major, rank floats per entity
    std::vector<std::uint32_t> user_count, item_count;
    rated_items rated;
  };
  /// Builds a model from parts; fails with a message if any size disagrees.
  static result<factor_model> from_parts(parts p);

  /// Same parameters and ids, bit for bit (tests, round trips).
  friend bool operator==(const factor_model& a, const factor_model& b);

 private:
  int rank_ = 0;
  rating_scale scale_;
  double mu_ = 0.0;
  std::uint64_t mu_count_ = 0;
  id_map users_, items_;
  std::vector<double> user_bias_, item_bias_;
  factor_table U_, P_;
  std::vector<std::uint32_t> user_count_, item_count_;
  rated_items rated_;
};

}  // namespace recflow
