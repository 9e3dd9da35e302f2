/// The arithmetic of streaming updates for one rating and one key, shared by the
/// reference trainer (streaming.hpp) and the graph's actors so that both round alike.
///
/// Ranks 10, 20, 50 and 100 use kernels with the rank fixed at compile time (fully
/// unrolled, ~1.5-2x faster at rank 10); other ranks use runtime-sized kernels. The two
/// may differ in the last bits (the dot product's summation tree differs), so code that
/// must agree bit for bit with the trainer picks its kernels with `with_rank`.
#pragma once

#include <Eigen/Core>

namespace recflow::stream_kernel {

/// Learning rates and regularisation, as the kernels read them.
struct rates {
  double gamma, gamma_bias, lambda, lambda_bias;
  double max_step;  ///< cap on (rate x ratings of a key in the batch); 0 = none
};

/// Kernels for rank K (Eigen::Dynamic: the rank passed at run time).
template <int K>
struct ops {
  using vec = Eigen::Map<Eigen::Matrix<double, K, 1>>;
  using cvec = Eigen::Map<const Eigen::Matrix<double, K, 1>>;
  int rank;  ///< equals K unless K is Eigen::Dynamic

  /// e = r - (((mu + b_u) + b_i) + dot(u, p)).
  double error_of(double r, double mu, double b_u, double b_i, const double* u,
                  const double* p) const noexcept {
    return r - (mu + b_u + b_i + cvec(u, rank).dot(cvec(p, rank)));
  }

  /// g += e * x: one rating's contribution to a summed factor gradient.
  void accumulate(double* g, double e, const double* x) const noexcept {
    vec(g, rank).noalias() += e * cvec(x, rank);
  }

  /// The rate a key with n ratings in the batch uses: `rate`, or max_step / n when
  /// rate * n exceeds max_step (then the step is max_step times the mean gradient).
  static double capped(double rate, double n, double max_step) noexcept {
    return max_step > 0.0 && rate * n > max_step ? max_step / n : rate;
  }

  /// A summed step for one key with n ratings in the batch, clearing the sums after:
  /// b += gb * (g_b - (n * lambda_bias) * b); x += g * (g_x - (n * lambda) * x), where
  /// gb = capped(gamma_bias, n, max_step) and g = capped(gamma, n, max_step).
  void apply_step(double& b, double* x, double& g_b, double* g_x, double n,
                  const rates& s) const noexcept {
    b += capped(s.gamma_bias, n, s.max_step) * (g_b - (n * s.lambda_bias) * b);
    g_b = 0.0;
    vec xx(x, rank), gg(g_x, rank);
    xx += capped(s.gamma, n, s.max_step) * (gg - (n * s.lambda) * xx);
    gg.setZero();
  }

  /// One B-SGD step for a rating with error e: b_u += gb(e - lb*b_u);
  /// b_i += gb(e - lb*b_i); u += g(e*p - l*u); p += g(e*u_old - l*p).
  void sgd_step(double e, double& b_u, double& b_i, double* u, double* p,
                const rates& s) const noexcept {
    b_u += s.gamma_bias * (e - s.lambda_bias * b_u);
    b_i += s.gamma_bias * (e - s.lambda_bias * b_i);
    if constexpr (K != Eigen::Dynamic && K <= 20) {  // small ranks: one vector op
      const Eigen::Matrix<double, K, 1> u_old = cvec(u, rank);
      vec uu(u, rank), pp(p, rank);
      uu += s.gamma * (e * pp - s.lambda * uu);
      pp += s.gamma * (e * u_old - s.lambda * pp);
    } else {
      for (int k = 0; k < rank; ++k) {
        double uk = u[k], pk = p[k];
        u[k] = uk + s.gamma * (e * pk - s.lambda * uk);
        p[k] = pk + s.gamma * (e * uk - s.lambda * pk);
      }
    }
  }
};

/// Calls f(ops<K>{rank}) with the kernels used for `rank`, and returns its result.
template <class F>
decltype(auto) with_rank(int rank, F&& f) {
  switch (rank) {
    case 10: return f(ops<10>{10});
    case 20: return f(ops<20>{20});
    case 50: return f(ops<50>{50});
    case 100: return f(ops<100>{100});
    default: return f(ops<Eigen::Dynamic>{rank});
  }
}

}  // namespace recflow::stream_kernel
