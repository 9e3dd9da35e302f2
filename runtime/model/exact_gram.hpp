/// A Gram matrix sum_j y_j y_j^T over float rows, kept exactly: every product y_a * y_b
/// (exact in double) is rounded once to a fixed-point grid of 2^-50 and the grid values
/// are summed as 128-bit integers. Integer sums do not depend on their order, so a Gram
/// matrix kept up to date row by row (remove the old row, add the new one) equals, bit
/// for bit, one summed from scratch, and the partial sums of any split of the rows (the
/// shards of a graph) add up to the same matrix. Streaming implicit ALS keeps the Gram
/// matrix of each side this way, so that the graph and its reference agree bit for bit.
///
/// Bound: each product's rounding is below 2^-50 (about 9e-16), so a Gram entry over n
/// rows is within n * 2^-50 of the exact sum of the float products: for 10^6 rows, 1e-9,
/// while the entries are of the order of n times the rows' squared entries. Products are
/// clamped to +-2^12 (rows with entries above 64 in magnitude, which regularised factors
/// never reach; the clamp keeps the sum deterministic all the same).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "recflow/model/model.hpp"

namespace recflow {

class exact_gram {
 public:
  __extension__ using int128 = __int128;

  exact_gram() = default;
  explicit exact_gram(int rank);

  int rank() const noexcept { return rank_; }
  /// += row row^T (rank floats).
  void add(std::span<const float> row) noexcept { accumulate(row, false); }
  /// -= row row^T: undoes add(row) exactly.
  void remove(std::span<const float> row) noexcept { accumulate(row, true); }
  /// += another Gram matrix of the same rank.
  void add(const exact_gram& other) noexcept;
  /// += every row of `rows` (of this rank).
  void add(const factor_table& rows) noexcept;
  void clear() noexcept;

  /// The matrix in double, both triangles, rank x rank (each entry rounded once).
  Eigen::MatrixXd to_matrix() const;

  /// The lower triangle's sums, column by column (rank (rank + 1) / 2 values), as two
  /// 64-bit halves each (low, then high) for messages; and back.
  std::vector<std::uint64_t> words() const;
  /// False (and unchanged) when `w` has the wrong size for `rank`.
  bool assign(int rank, std::span<const std::uint64_t> w);

  friend bool operator==(const exact_gram& a, const exact_gram& b) {
    return a.rank_ == b.rank_ && a.sums_ == b.sums_;
  }

 private:
  void accumulate(std::span<const float> row, bool negative) noexcept;

  int rank_ = 0;
  std::vector<int128> sums_;  ///< lower triangle, column-major
};

}  // namespace recflow
