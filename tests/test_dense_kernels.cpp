// The dense kernels of the ALS solves (model/dense_kernels.hpp) against Eigen: the normal
// equations summed in design-row order, exactly as rank-one updates sum them, and the
// Cholesky solve within rounding of Eigen's, with its refusal of matrices that are not
// positive definite; every size from 1 to past the padding step, strided storage.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "recflow/model/dense_kernels.hpp"

using namespace recflow;

TEST_CASE("gram_lower: the lower triangle and right-hand side of rank-one updates, bit for bit",
          "[model][als]") {
  auto d = GENERATE(std::size_t(1), std::size_t(3), std::size_t(8), std::size_t(9),
                    std::size_t(51));
  auto n = GENERATE(std::size_t(0), std::size_t(1), std::size_t(4), std::size_t(7),
                    std::size_t(30));
  INFO("d " << d << ", n " << n);
  std::mt19937 rng(unsigned(d * 131 + n));
  std::normal_distribution<double> draw(0.0, 1.0);
  const std::size_t ldx = d + 2, lda = d + 5;
  std::vector<double> X(ldx * std::max<std::size_t>(n, 1)), y(std::max<std::size_t>(n, 1));
  for (auto& v : X)
    v = draw(rng);
  for (auto& v : y)
    v = draw(rng);
  const double upper = 42.0;  // the upper triangle is left alone
  std::vector<double> A(lda * d, upper), rhs(d, -1.0);
  detail::gram_lower(X.data(), ldx, d, n, y.data(), A.data(), lda, rhs.data());
  for (std::size_t b = 0; b < d; ++b) {
    for (std::size_t a = 0; a < d; ++a) {
      if (a < b) {
        REQUIRE(A[a + b * lda] == upper);
        continue;
      }
      double s = 0.0;  // one rank-one update after the other
      for (std::size_t j = 0; j < n; ++j)
        s += X[a + j * ldx] * X[b + j * ldx];
      REQUIRE(A[a + b * lda] == s);
    }
  }
  for (std::size_t a = 0; a < d; ++a) {
    double s = 0.0;
    for (std::size_t j = 0; j < n; ++j)
      s += y[j] * X[a + j * ldx];
    REQUIRE(rhs[a] == s);
  }
}

TEST_CASE("cholesky_solve: Eigen's solution within rounding, A unchanged, and no answer for "
          "a matrix that is not positive definite",
          "[model][als]") {
  auto d = GENERATE(std::size_t(1), std::size_t(2), std::size_t(7), std::size_t(8),
                    std::size_t(9), std::size_t(17), std::size_t(51), std::size_t(101));
  INFO("d " << d);
  std::mt19937 rng{static_cast<unsigned>(d)};
  std::normal_distribution<double> draw(0.0, 1.0);
  Eigen::MatrixXd G(d, d + 3);
  for (Eigen::Index a = 0; a < G.rows(); ++a)
    for (Eigen::Index b = 0; b < G.cols(); ++b)
      G(a, b) = draw(rng);
  Eigen::MatrixXd S = G * G.transpose() + 0.1 * Eigen::MatrixXd::Identity(d, d);
  Eigen::VectorXd rhs(d);
  for (Eigen::Index a = 0; a < rhs.size(); ++a)
    rhs[a] = draw(rng);
  const std::size_t lda = d + 3;
  std::vector<double> A(lda * d, std::numeric_limits<double>::quiet_NaN());  // upper: never read
  for (std::size_t b = 0; b < d; ++b)
    for (std::size_t a = b; a < d; ++a)
      A[a + b * lda] = S(Eigen::Index(a), Eigen::Index(b));
  const auto before = A;
  std::vector<double> work(detail::cholesky_work(d), 0.0);
  Eigen::VectorXd z(d);
  REQUIRE(detail::cholesky_solve(A.data(), lda, d, rhs.data(), z.data(), work.data()));
  Eigen::VectorXd want = S.llt().solve(rhs);
  const double scale = want.norm() + 1.0;
  CHECK((z - want).norm() <= 1e-9 * scale);
  CHECK((S * z - rhs).norm() <= 1e-9 * (S.norm() * z.norm() + rhs.norm()));
  for (std::size_t k = 0; k < A.size(); ++k)
    if (!std::isnan(before[k]))
      REQUIRE(A[k] == before[k]);

  // A zero, a negative or a NaN pivot: no answer (the caller falls back).
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    auto B = before;
    const auto last = d - 1;
    for (std::size_t a = last; a < d; ++a)
      B[a + last * lda] = 0.0;
    for (std::size_t b = 0; b < last; ++b)
      B[last + b * lda] = 0.0;
    B[last + last * lda] = bad;
    INFO("pivot " << bad);
    CHECK_FALSE(detail::cholesky_solve(B.data(), lda, d, rhs.data(), z.data(), work.data()));
  }
}
