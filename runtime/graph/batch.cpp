#include "recflow/graph/batch.hpp"

namespace recflow {

rating_batch to_batch(std::span<const rating> rs, const id_map& users, const id_map& items) {
  rating_batch b;
  b.ratings.reserve(rs.size());
  for (const auto& r : rs)
    b.ratings.push_back({users.external(r.user), items.external(r.item), r.value, r.timestamp});
  return b;
}

double fold_mean(double mu, std::uint64_t& count, const rating_batch& b) noexcept {
  if (b.empty())
    return mu;
  // The same expression as factor_model::observe_mean, term for term.
  double sum = 0.0;
  for (const auto& r : b.ratings)
    sum += r.value;
  auto n = count + b.size();
  mu = mu * (static_cast<double>(count) / static_cast<double>(n)) + sum / static_cast<double>(n);
  count = n;
  return mu;
}

}  // namespace recflow
