// The median the benchmarks print: the middle value, or the mean of the two middle values
// for an even count (0 for none).
#pragma once

#include <algorithm>
#include <vector>

namespace recflow::bench {

inline double median(std::vector<double> v) {
  if (v.empty())
    return 0.0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace recflow::bench
