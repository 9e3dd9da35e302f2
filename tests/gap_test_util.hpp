/// Comparing two tables of model values as a whole.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace recflow::test {

/// Largest |a[j] - b[j]| over the largest |b[j]| (a and b of one size). A value near zero
/// may lose all its relative digits to cancellation, so element-wise relative checks would
/// be meaningless; this measures the gap against the table's scale.
template <class A, class B>
double relative_gap(const A& a, const B& b) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t j = 0; j < b.size(); ++j) {
    diff = std::max(diff, std::abs(double(a[j]) - double(b[j])));
    scale = std::max(scale, std::abs(double(b[j])));
  }
  return diff / scale;
}

}  // namespace recflow::test
