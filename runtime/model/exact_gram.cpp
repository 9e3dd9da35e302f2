#include "recflow/model/exact_gram.hpp"

#include <algorithm>
#include <cmath>

namespace recflow {

namespace {

__extension__ using uint128 = unsigned __int128;

constexpr double scale = 0x1p50;    // the grid: 2^-50
constexpr double unscale = 0x1p-50;
constexpr double clamp = 0x1p12;    // |product| at most 2^12, so |scaled| < 2^63

std::int64_t on_grid(double product) noexcept {
  product = std::clamp(product, -clamp, clamp);
  return static_cast<std::int64_t>(product * scale);  // truncation: one fixed rounding
}

}  // namespace

exact_gram::exact_gram(int rank)
  : rank_(rank), sums_(std::size_t(rank) * std::size_t(rank + 1) / 2, 0) {}

void exact_gram::accumulate(std::span<const float> row, bool negative) noexcept {
  const auto k = std::size_t(rank_);
  int128* s = sums_.data();
  for (std::size_t b = 0; b < k; ++b) {
    const double yb = row[b];
    for (std::size_t a = b; a < k; ++a, ++s) {
      const std::int64_t q = on_grid(double(row[a]) * yb);  // exact product, then the grid
      *s += negative ? -int128(q) : int128(q);
    }
  }
}

void exact_gram::add(const exact_gram& other) noexcept {
  for (std::size_t j = 0; j < sums_.size() && j < other.sums_.size(); ++j)
    sums_[j] += other.sums_[j];
}

void exact_gram::add(const factor_table& rows) noexcept {
  for (index_t r = 0; r < rows.rows(); ++r)
    add(rows.row_span(r));
}

void exact_gram::clear() noexcept { std::fill(sums_.begin(), sums_.end(), 0); }

Eigen::MatrixXd exact_gram::to_matrix() const {
  const auto k = Eigen::Index(rank_);
  Eigen::MatrixXd g(k, k);
  const int128* s = sums_.data();
  for (Eigen::Index b = 0; b < k; ++b)
    for (Eigen::Index a = b; a < k; ++a, ++s)
      g(a, b) = g(b, a) = static_cast<double>(*s) * unscale;
  return g;
}

std::vector<std::uint64_t> exact_gram::words() const {
  std::vector<std::uint64_t> w;
  w.reserve(2 * sums_.size());
  for (int128 v : sums_) {
    const auto u = static_cast<uint128>(v);
    w.push_back(static_cast<std::uint64_t>(u));
    w.push_back(static_cast<std::uint64_t>(u >> 64));
  }
  return w;
}

bool exact_gram::assign(int rank, std::span<const std::uint64_t> w) {
  const auto n = std::size_t(rank) * std::size_t(rank + 1) / 2;
  if (rank < 0 || w.size() != 2 * n)
    return false;
  rank_ = rank;
  sums_.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const auto u = (static_cast<uint128>(w[2 * j + 1]) << 64) | w[2 * j];
    sums_[j] = static_cast<int128>(u);
  }
  return true;
}

}  // namespace recflow
