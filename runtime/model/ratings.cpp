#include "model/ratings.hpp"

namespace recflow {

double mean_rating(std::span<const rating> rs) noexcept {
  if (rs.empty())
    return 0.0;
  double sum = 0.0;
  for (const auto& r : rs)
    sum += r.value;
  return sum / static_cast<double>(rs.size());
}

}  // namespace recflow
