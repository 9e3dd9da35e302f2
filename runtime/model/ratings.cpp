#include "recflow/model/ratings.hpp"

#include <cmath>
#include <string>

namespace recflow {

result<void> check_ratings(const rating_table& t) {
  for (std::size_t k = 0; k < t.ratings.size(); ++k) {
    const auto& r = t.ratings[k];
    if (r.user >= t.users.size() || r.item >= t.items.size())
      return error{errc::invalid_value, "rating " + std::to_string(k) + " names user index "
                                          + std::to_string(r.user) + " / item index "
                                          + std::to_string(r.item)
                                          + " outside the table's id maps"};
    if (!std::isfinite(r.value))
      return error{errc::invalid_value, "rating " + std::to_string(k) + " is not finite"};
  }
  return {};
}

double mean_rating(std::span<const rating> rs) noexcept {
  if (rs.empty())
    return 0.0;
  double sum = 0.0;
  for (const auto& r : rs)
    sum += r.value;
  return sum / static_cast<double>(rs.size());
}

}  // namespace recflow
