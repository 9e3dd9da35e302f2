#include "recflow/model/random.hpp"

#include <array>
#include <cmath>

namespace recflow {

namespace {

// Marsaglia and Tsang, "The Ziggurat Method for Generating Random Variables" (2000): 128
// layers of equal area `area` under f(x) = exp(-x^2/2), the base one reaching `edge` and
// carrying the tail beyond it.
constexpr int layers = 128;
constexpr double edge = 3.442619855899;
constexpr double area = 9.91256303526217e-3;

double density(double x) noexcept { return std::exp(-0.5 * x * x); }

/// x[0] = area / f(edge) (the base layer's width if its tail were a rectangle),
/// x[1] = edge > x[2] > ... > x[128] = 0, each layer i (i >= 1) the rectangle
/// [0, x[i]] x [f(x[i]), f(x[i+1])]; f_x[i] = f(x[i]).
struct ziggurat_tables {
  std::array<double, layers + 1> x{};
  std::array<double, layers + 1> f_x{};
  ziggurat_tables() noexcept {
    x[0] = area / density(edge);
    x[1] = edge;
    for (int i = 1; i + 1 < layers; ++i)
      x[i + 1] = std::sqrt(-2.0 * std::log(density(x[i]) + area / x[i]));
    x[layers] = 0.0;
    for (int i = 0; i <= layers; ++i)
      f_x[i] = density(x[i]);
  }
};

}  // namespace

double ziggurat_normal(std::uint64_t& state) noexcept {
  static const ziggurat_tables t;
  for (;;) {
    // Bits 0-6 pick the layer, bit 7 the sign, bits 11-63 the position in the layer.
    std::uint64_t bits = splitmix64_next(state);
    auto i = static_cast<unsigned>(bits & (layers - 1));
    double sign = (bits & layers) != 0 ? -1.0 : 1.0;
    double x = static_cast<double>(bits >> 11) * 0x1.0p-53 * t.x[i];
    if (x < t.x[i + 1])
      return sign * x;  // inside the part of the layer under the curve
    if (i == 0) {
      // The tail beyond `edge`: Marsaglia's method with two exponential draws.
      double a = 0.0;
      double b = 0.0;
      do {
        a = -std::log(unit_open(splitmix64_next(state))) / edge;
        b = -std::log(unit_open(splitmix64_next(state)));
      } while (b + b < a * a);
      return sign * (edge + a);
    }
    // The wedge beside the curve: accept when a uniform height falls below f(x).
    double y = t.f_x[i] + unit_open(splitmix64_next(state)) * (t.f_x[i + 1] - t.f_x[i]);
    if (y < density(x))
      return sign * x;
  }
}

}  // namespace recflow
