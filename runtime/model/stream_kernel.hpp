/// The arithmetic of streaming updates for one rating and one key, shared by the
/// reference trainer (streaming.hpp) and the graph's actors so that both round alike.
///
/// Precision: factors, their per-batch gradient sums and the steps are single precision
/// (what LibMF and Spark's ALS compute in); errors, biases, bias sums and the running mean
/// are double. docs/model.md ("Precision") states the bound and test_streaming.cpp
/// ("[precision]") checks it against a double-precision computation of the same batch.
///
/// The kernels are plain loops with a fixed order of operations that does not depend on
/// the SIMD width the compiler picks, so every build (SSE2, AVX2, AVX-512, -march=native
/// or not) and every rank path computes the same bits:
///  - dot(a, b) keeps `lanes` (8) float partial sums, acc[j] += a[k + j] * b[k + j] over
///    blocks of 8; the tail (rank % 8 elements) goes into acc[0..tail) the same way; the
///    sums are then folded in halves: acc[j] += acc[j + 4], then + 2, + 1. A vector unit
///    of 4 or 8 floats holds whole lanes, so it computes exactly these operations.
///  - accumulate, apply_step and sgd_step are element-wise: one rounding per operation
///    as written, whatever the width.
/// This relies on the build never contracting a * b + c into an FMA (the top-level
/// CMakeLists.txt sets -ffp-contract=off for that reason) and on no -ffast-math.
///
/// Ranks 10, 20, 50 and 100 use kernels with the rank fixed at compile time (fully
/// unrolled loops); other ranks use the same loops with the rank read at run time. Both
/// compute the same operations in the same order, so they agree bit for bit.
///
/// Loops over many ratings or keys that call these kernels should be marked
/// RECFLOW_VECTOR_LOOP: GCC then compiles them for x86-64-v4 (AVX-512), x86-64-v3 (AVX2)
/// and the build's baseline, and picks one at load time; `flatten` inlines the kernels
/// (and with_rank's lambda) into each clone so that they use its vector width. Never put
/// it on a per-rating function: each call would go through the dispatcher. Only put it on
/// a function that is called from the file that defines it (a file-local function, or a
/// private member called only there): g++ 12 emits the dispatcher in every calling file,
/// referring to clones that only the defining file has, and the link fails.
#pragma once

#include <cstddef>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define RECFLOW_VECTOR_LOOP \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), flatten))
#else
#define RECFLOW_VECTOR_LOOP
#endif

namespace recflow::stream_kernel {

/// Learning rates and regularisation, as the kernels read them.
struct rates {
  double gamma, gamma_bias, lambda, lambda_bias;
  double max_step;  ///< cap on (rate x ratings of a key in the batch); 0 = none
};

/// The rank that ops<dynamic_rank> reads at run time.
inline constexpr int dynamic_rank = -1;

/// Partial sums of the dot product (see the file comment); fixed, whatever the SIMD width.
inline constexpr int lanes = 8;

/// Kernels for rank K (dynamic_rank: the rank passed at run time).
template <int K>
struct ops {
  int rank;  ///< equals K unless K is dynamic_rank

  int size() const noexcept {
    if constexpr (K == dynamic_rank)
      return rank;
    else
      return K;
  }

  /// a . b with `lanes` float partial sums folded in halves (see the file comment).
  float dot(const float* __restrict a, const float* __restrict b) const noexcept {
    const int n = size();
    float acc[lanes] = {};
    int k = 0;
    for (; k + lanes <= n; k += lanes)
      for (int j = 0; j < lanes; ++j)
        acc[j] += a[k + j] * b[k + j];
    for (int j = 0; k + j < n; ++j)
      acc[j] += a[k + j] * b[k + j];
    for (int w = lanes / 2; w > 0; w /= 2)
      for (int j = 0; j < w; ++j)
        acc[j] += acc[j + w];
    return acc[0];
  }

  /// Copies a row: to[k] = from[k].
  void copy(float* __restrict to, const float* __restrict from) const noexcept {
    const int n = size();
    for (int k = 0; k < n; ++k)
      to[k] = from[k];
  }

  /// e = r - (((mu + b_u) + b_i) + dot(u, p)), in double from the float dot.
  double error_of(double r, double mu, double b_u, double b_i, const float* u,
                  const float* p) const noexcept {
    return r - (((mu + b_u) + b_i) + static_cast<double>(dot(u, p)));
  }

  /// g += float(e) * x: one rating's contribution to a summed factor gradient.
  void accumulate(float* __restrict g, double e, const float* __restrict x) const noexcept {
    const int n = size();
    const auto ef = static_cast<float>(e);
    for (int k = 0; k < n; ++k)
      g[k] += ef * x[k];
  }

  /// The rate a key with n ratings in the batch uses: `rate`, or max_step / n when
  /// rate * n exceeds max_step (then the step is max_step times the mean gradient).
  static double capped(double rate, double n, double max_step) noexcept {
    return max_step > 0.0 && rate * n > max_step ? max_step / n : rate;
  }

  /// The factor step's rate and decay of a key with n ratings in the batch, after its
  /// bias step (both forms of apply_step share them).
  struct factor_rates {
    float g, l;
  };
  static factor_rates step_bias(double& b, double& g_b, double n, const rates& s) noexcept {
    b += capped(s.gamma_bias, n, s.max_step) * (g_b - (n * s.lambda_bias) * b);
    g_b = 0.0;
    return {static_cast<float>(capped(s.gamma, n, s.max_step)), static_cast<float>(n * s.lambda)};
  }

  /// A summed step for one key with n ratings in the batch, clearing the sums after:
  /// b += gb * (g_b - (n * lambda_bias) * b) in double; x += g * (g_x - l * x) in float,
  /// where gb = capped(gamma_bias, n, max_step), g = float(capped(gamma, n, max_step))
  /// and l = float(n * lambda).
  void apply_step(double& b, float* __restrict x, double& g_b, float* __restrict g_x,
                  double n, const rates& s) const noexcept {
    const auto [g, l] = step_bias(b, g_b, n, s);
    const int m = size();
    for (int k = 0; k < m; ++k) {
      x[k] += g * (g_x[k] - l * x[k]);
      g_x[k] = 0.0f;
    }
  }

  /// apply_step with the new row written to `out` (x is left as it was): the same
  /// operations, the same bits.
  void apply_step_to(float* __restrict out, double& b, const float* __restrict x, double& g_b,
                     float* __restrict g_x, double n, const rates& s) const noexcept {
    const auto [g, l] = step_bias(b, g_b, n, s);
    const int m = size();
    for (int k = 0; k < m; ++k) {
      out[k] = x[k] + g * (g_x[k] - l * x[k]);
      g_x[k] = 0.0f;
    }
  }

  /// One B-SGD step for a rating with error e: b_u += gb(e - lb*b_u);
  /// b_i += gb(e - lb*b_i) in double; u += g(e*p - l*u); p += g(e*u_old - l*p) in float
  /// (g, l and e rounded to float once).
  void sgd_step(double e, double& b_u, double& b_i, float* __restrict u,
                float* __restrict p, const rates& s) const noexcept {
    b_u += s.gamma_bias * (e - s.lambda_bias * b_u);
    b_i += s.gamma_bias * (e - s.lambda_bias * b_i);
    const auto g = static_cast<float>(s.gamma), l = static_cast<float>(s.lambda);
    const auto ef = static_cast<float>(e);
    const int n = size();
    for (int k = 0; k < n; ++k) {
      const float uk = u[k], pk = p[k];
      u[k] = uk + g * (ef * pk - l * uk);
      p[k] = pk + g * (ef * uk - l * pk);
    }
  }
};

/// Ratings ahead whose rows the hot loops prefetch: enough to hide a memory access behind
/// the work of a few ratings at ranks 10 to 100.
inline constexpr std::size_t prefetch_ahead = 8;

/// Asks for the cache lines of the n floats at `row` (a hint: no effect on results).
inline void prefetch(const float* row, std::size_t n) noexcept {
  constexpr std::size_t per_line = 64 / sizeof(float);
  for (std::size_t k = 0; k < n; k += per_line)
    __builtin_prefetch(row + k);
  __builtin_prefetch(row + n - 1);
}

/// Calls f(ops<K>{rank}) with the kernels used for `rank`, and returns its result. Every
/// choice computes the same bits; the fixed ranks only let the compiler unroll.
template <class F>
decltype(auto) with_rank(int rank, F&& f) {
  switch (rank) {
    case 10: return f(ops<10>{10});
    case 20: return f(ops<20>{20});
    case 50: return f(ops<50>{50});
    case 100: return f(ops<100>{100});
    default: return f(ops<dynamic_rank>{rank});
  }
}

}  // namespace recflow::stream_kernel
