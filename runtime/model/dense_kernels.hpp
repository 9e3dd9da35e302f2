/// The small dense kernels of every ALS solve (a normal-equations matrix and its Cholesky
/// solve, rank + 1 at most about 200), in double, compiled for AVX-512, AVX2 and the
/// baseline and picked at load time: Eigen's own kernels are fixed when the library is
/// compiled, so in the portable build they ran SSE2. Each sum runs in a fixed order
/// whatever the vector width (the vectors run across independent entries, never along a
/// sum) and without fused multiply-adds, so every build and CPU computes the same bits.
/// Not an interface of the model: include it only from runtime/model/*.cpp and the tests.
#pragma once

#include <cstddef>

namespace recflow::detail {

/// A = sum_j x_j x_j^T (lower triangle and diagonal; the upper triangle is not written)
/// and rhs = sum_j y_j x_j, over j = 0..n-1 in that order, where x_j is the column
/// X + j * ldx of d doubles. A is column-major with leading dimension lda >= d. With y
/// null, rhs is neither computed nor written (and may be null).
void gram_lower(const double* X, std::size_t ldx, std::size_t d, std::size_t n,
                const double* y, double* A, std::size_t lda, double* rhs);

/// The doubles of scratch cholesky_solve needs for a d x d system.
std::size_t cholesky_work(std::size_t d);

/// Solves A z = rhs by Cholesky, reading A's lower triangle (column-major, leading
/// dimension lda) and leaving A as it was; `work` holds at least cholesky_work(d)
/// doubles. Returns false, with z unspecified, when a pivot is not positive (A is not
/// positive definite as far as the rounding shows, or holds a NaN).
bool cholesky_solve(const double* A, std::size_t lda, std::size_t d, const double* rhs,
                    double* z, double* work);

}  // namespace recflow::detail
