#include "recflow/model/dense_kernels.hpp"

#include <cmath>

#include "recflow/model/stream_kernel.hpp"

namespace recflow::detail {

namespace {

RECFLOW_VECTOR_LOOP void gram_lower_impl(const double* X, std::size_t ldx, std::size_t d,
                                         std::size_t n, const double* y, double* A,
                                         std::size_t lda, double* rhs) {
  for (std::size_t b = 0; b < d; ++b)
    for (std::size_t a = b; a < d; ++a)
      A[a + b * lda] = 0.0;
  if (y)
    for (std::size_t a = 0; a < d; ++a)
      rhs[a] = 0.0;
  // Four design rows at a time: each entry of A is loaded and stored once per four
  // products, which are still added one after the other, in j order.
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const double* x0 = X + j * ldx;
    const double* x1 = x0 + ldx;
    const double* x2 = x1 + ldx;
    const double* x3 = x2 + ldx;
    for (std::size_t b = 0; b < d; ++b) {
      const double c0 = x0[b], c1 = x1[b], c2 = x2[b], c3 = x3[b];
      double* col = A + b * lda;
      for (std::size_t a = b; a < d; ++a) {
        double s = col[a];
        s += x0[a] * c0;
        s += x1[a] * c1;
        s += x2[a] * c2;
        s += x3[a] * c3;
        col[a] = s;
      }
    }
    if (!y)
      continue;
    const double y0 = y[j], y1 = y[j + 1], y2 = y[j + 2], y3 = y[j + 3];
    for (std::size_t a = 0; a < d; ++a) {
      double s = rhs[a];
      s += y0 * x0[a];
      s += y1 * x1[a];
      s += y2 * x2[a];
      s += y3 * x3[a];
      rhs[a] = s;
    }
  }
  for (; j < n; ++j) {
    const double* x = X + j * ldx;
    for (std::size_t b = 0; b < d; ++b) {
      const double c = x[b];
      double* col = A + b * lda;
      for (std::size_t a = b; a < d; ++a)
        col[a] += x[a] * c;
    }
    if (!y)
      continue;
    const double yj = y[j];
    for (std::size_t a = 0; a < d; ++a)
      rhs[a] += yj * x[a];
  }
}

/// Rows of L handled as one vector step: the factor is padded to a multiple of this.
constexpr std::size_t step = 8;

/// d rounded up to a multiple of `step`: the rows (and leading dimension) of the factor.
constexpr std::size_t padded(std::size_t d) { return (d + step - 1) / step * step; }

/// Cholesky into `L` (column-major, leading dimension p = padded(d); the rows past d are
/// zero and stay zero), column by column (left-looking): column k takes the products of
/// the columns before it four at a time, each entry still subtracting them in column
/// order. Every loop down a column starts at the 8-row step holding the diagonal, so it
/// runs whole vectors; the rows above the diagonal it also computes are never read. Then
/// the two triangular solves.
RECFLOW_VECTOR_LOOP bool cholesky_solve_impl(const double* A, std::size_t lda, std::size_t d,
                                             const double* rhs, double* z, double* L) {
  const std::size_t p = padded(d);
  for (std::size_t b = 0; b < d; ++b)
    for (std::size_t a = 0; a < p; ++a)
      L[a + b * p] = a >= b && a < d ? A[a + b * lda] : 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    double* ck = L + k * p;
    const std::size_t from = k / step * step;
    std::size_t j = 0;
    for (; j + 4 <= k; j += 4) {
      const double* c0 = L + j * p;
      const double* c1 = c0 + p;
      const double* c2 = c1 + p;
      const double* c3 = c2 + p;
      const double l0 = c0[k], l1 = c1[k], l2 = c2[k], l3 = c3[k];
      for (std::size_t a0 = from; a0 < p; a0 += step)
        for (std::size_t a = a0; a < a0 + step; ++a) {
          double s = ck[a];
          s -= c0[a] * l0;
          s -= c1[a] * l1;
          s -= c2[a] * l2;
          s -= c3[a] * l3;
          ck[a] = s;
        }
    }
    for (; j < k; ++j) {
      const double* cj = L + j * p;
      const double l = cj[k];
      for (std::size_t a0 = from; a0 < p; a0 += step)
        for (std::size_t a = a0; a < a0 + step; ++a)
          ck[a] -= cj[a] * l;
    }
    const double pivot = ck[k];
    if (!(pivot > 0.0))
      return false;
    const double root = std::sqrt(pivot);
    ck[k] = root;
    for (std::size_t a = k + 1; a < d; ++a)
      ck[a] /= root;
  }
  // L w = rhs, column by column (w in z).
  for (std::size_t a = 0; a < d; ++a)
    z[a] = rhs[a];
  for (std::size_t j = 0; j < d; ++j) {
    const double* cj = L + j * p;
    const double w = z[j] / cj[j];
    z[j] = w;
    for (std::size_t a = j + 1; a < d; ++a)
      z[a] -= cj[a] * w;
  }
  // L^T z = w, from the last unknown up: each one a sum down its column of L.
  for (std::size_t j = d; j-- > 0;) {
    const double* cj = L + j * p;
    double s = z[j];
    for (std::size_t a = j + 1; a < d; ++a)
      s -= cj[a] * z[a];
    z[j] = s / cj[j];
  }
  return true;
}

}  // namespace

void gram_lower(const double* X, std::size_t ldx, std::size_t d, std::size_t n,
                const double* y, double* A, std::size_t lda, double* rhs) {
  gram_lower_impl(X, ldx, d, n, y, A, lda, rhs);
}

std::size_t cholesky_work(std::size_t d) { return padded(d) * d; }

bool cholesky_solve(const double* A, std::size_t lda, std::size_t d, const double* rhs,
                    double* z, double* work) {
  return cholesky_solve_impl(A, lda, d, rhs, z, work);
}

}  // namespace recflow::detail
