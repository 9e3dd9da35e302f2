#include "recflow/model/model.hpp"
#include "recflow/model/predict_errors.hpp"
#include "recflow/model/random.hpp"
#include "recflow/model/stream_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace recflow {

void initial_factors(std::uint64_t seed, side s, std::int64_t external_id, double stddev,
                     std::span<float> out) noexcept {
  std::uint64_t state = seed ^ (0x5851f42d4c957f2dull * (static_cast<std::uint64_t>(s) + 1));
  state ^= splitmix64_next(state) + static_cast<std::uint64_t>(external_id);
  splitmix64_next(state);
  // Box-Muller: two independent normals per pair of uniforms. The uniforms are drawn in
  // double; the radius and the angle are taken in float, the precision the factors are
  // stored in (a few times cheaper than in double: a new id's row is drawn in the
  // streaming hot path).
  const auto scale = static_cast<float>(stddev);
  constexpr auto two_pi = static_cast<float>(2.0 * std::numbers::pi);
  for (std::size_t k = 0; k < out.size(); k += 2) {
    auto u = static_cast<float>(unit_open(splitmix64_next(state)));
    auto v = static_cast<float>(unit_open(splitmix64_next(state)));
    float r = scale * std::sqrt(-2.0f * std::log(u));
    float t = two_pi * v;
    out[k] = r * std::cos(t);
    if (k + 1 < out.size())
      out[k + 1] = r * std::sin(t);
  }
}

rated_items rated_items::build(std::span<const rating> rs, index_t n_users) {
  rated_items out;
  out.offsets.assign(std::size_t(n_users) + 1, 0);
  for (const auto& r : rs)
    if (r.user < n_users)
      ++out.offsets[r.user + 1];
  for (std::size_t u = 0; u < n_users; ++u)
    out.offsets[u + 1] += out.offsets[u];
  out.items.resize(out.offsets.back());
  auto fill = out.offsets;
  for (const auto& r : rs)
    if (r.user < n_users)
      out.items[fill[r.user]++] = r.item;
  // Sort and deduplicate each row, then compact.
  std::uint64_t write = 0;
  for (std::size_t u = 0; u < n_users; ++u) {
    auto first = out.items.begin() + static_cast<std::ptrdiff_t>(out.offsets[u]);
    auto last = out.items.begin() + static_cast<std::ptrdiff_t>(out.offsets[u + 1]);
    std::sort(first, last);
    auto end = std::unique(first, last);
    out.offsets[u] = write;
    for (auto it = first; it != end; ++it)
      out.items[write++] = *it;
  }
  out.offsets[n_users] = write;
  out.items.resize(write);
  return out;
}

factor_model::factor_model(int rank, rating_scale scale)
  : rank_(rank), scale_(scale), U_(rank), P_(rank) {}

void factor_model::observe_mean(std::span<const rating> rs) noexcept {
  if (rs.empty())
    return;
  double sum = 0.0;
  for (const auto& r : rs)
    sum += r.value;
  auto n = mu_count_ + rs.size();
  mu_ = mu_ * (static_cast<double>(mu_count_) / static_cast<double>(n))
        + sum / static_cast<double>(n);
  mu_count_ = n;
}

void factor_model::reserve(std::size_t users, std::size_t items) {
  // Doubling, so that a caller reserving a little more on every batch pays amortised O(1).
  auto target = [](std::size_t want, std::size_t have) {
    return want <= have ? std::size_t(0) : std::max(want, 2 * have);
  };
  if (auto n = target(users, user_bias_.capacity())) {
    users_.reserve(n);
    user_bias_.reserve(n);
    user_count_.reserve(n);
    U_.reserve(static_cast<index_t>(n));
  }
  if (auto n = target(items, item_bias_.capacity())) {
    items_.reserve(n);
    item_bias_.reserve(n);
    item_count_.reserve(n);
    P_.reserve(static_cast<index_t>(n));
  }
}

index_t factor_model::add_user(std::int64_t external_id, std::uint64_t seed,
                               double init_stddev) {
  auto before = users_.size();
  auto u = users_.insert(external_id);
  if (u == before) {
    user_bias_.push_back(0.0);
    user_count_.push_back(0);
    U_.resize(u + 1);
    initial_factors(seed, side::user, external_id, init_stddev, U_.row_span(u));
  }
  return u;
}

index_t factor_model::add_item(std::int64_t external_id, std::uint64_t seed,
                               double init_stddev) {
  auto before = items_.size();
  auto i = items_.insert(external_id);
  if (i == before) {
    item_bias_.push_back(0.0);
    item_count_.push_back(0);
    P_.resize(i + 1);
    initial_factors(seed, side::item, external_id, init_stddev, P_.row_span(i));
  }
  return i;
}

double predict_rows(double mu, const rating_scale& scale, known_row user, known_row item,
                    int rank) noexcept {
  return stream_kernel::with_rank(
    rank, [&](const auto& o) {
      return finish_prediction(mu, scale, detail::prediction_core(o, user, item));
    });
}

double factor_model::predict(index_t u, index_t i, prediction_source* source) const noexcept {
  bool uk = user_known(u);
  bool ik = item_known(i);
  if (source)
    *source = uk && ik ? prediction_source::full
              : uk     ? prediction_source::user_bias
              : ik     ? prediction_source::item_bias
                       : prediction_source::mean;
  known_row user, item;
  if (uk)
    user = {user_bias_[u], U_.row(u).data()};
  if (ik)
    item = {item_bias_[i], P_.row(i).data()};
  return predict_rows(mu_, scale_, user, item, rank_);
}

double factor_model::predict_external(std::int64_t user, std::int64_t item,
                                      prediction_source* source) const noexcept {
  return predict(users_.find(user), items_.find(item), source);
}

result<factor_model> factor_model::from_parts(parts p) {
  auto fail = [](std::string what) { return error{errc::corrupt, std::move(what)}; };
  if (p.rank <= 0)
    return fail("rank must be positive, got " + std::to_string(p.rank));
  auto nu = std::size_t(p.users.size());
  auto ni = std::size_t(p.items.size());
  auto k = std::size_t(p.rank);
  if (p.user_bias.size() != nu || p.user_count.size() != nu || p.U.size() != nu * k)
    return fail("user tables disagree in size with the " + std::to_string(nu) + " user ids");
  if (p.item_bias.size() != ni || p.item_count.size() != ni || p.P.size() != ni * k)
    return fail("item tables disagree in size with the " + std::to_string(ni) + " item ids");
  if (!p.rated.empty()) {
    if (p.rated.offsets.size() != nu + 1 || p.rated.offsets.front() != 0
        || p.rated.offsets.back() != p.rated.items.size())
      return fail("rated-items index disagrees with the user ids");
    for (std::size_t u = 0; u < nu; ++u)
      if (p.rated.offsets[u] > p.rated.offsets[u + 1])
        return fail("rated-items offsets are not monotone");
    for (auto i : p.rated.items)
      if (i >= ni)
        return fail("rated-items index names item " + std::to_string(i) + " of "
                    + std::to_string(ni));
  }
  if (!(p.scale.min < p.scale.max) || !std::isfinite(p.scale.min) || !std::isfinite(p.scale.max))
    return fail("rating scale is empty or not finite");
  factor_model m(p.rank, p.scale);
  m.mu_ = p.mu;
  m.mu_count_ = p.mu_count;
  m.users_ = std::move(p.users);
  m.items_ = std::move(p.items);
  m.user_bias_ = std::move(p.user_bias);
  m.item_bias_ = std::move(p.item_bias);
  m.U_.data() = std::move(p.U);
  m.P_.data() = std::move(p.P);
  m.user_count_ = std::move(p.user_count);
  m.item_count_ = std::move(p.item_count);
  m.rated_ = std::move(p.rated);
  return m;
}

bool operator==(const factor_model& a, const factor_model& b) {
  return a.rank_ == b.rank_ && a.scale_.min == b.scale_.min && a.scale_.max == b.scale_.max
         && a.mu_ == b.mu_ && a.mu_count_ == b.mu_count_ && a.users_ == b.users_
         && a.items_ == b.items_ && a.user_bias_ == b.user_bias_
         && a.item_bias_ == b.item_bias_ && a.U_ == b.U_ && a.P_ == b.P_
         && a.user_count_ == b.user_count_ && a.item_count_ == b.item_count_
         && a.rated_.offsets == b.rated_.offsets && a.rated_.items == b.rated_.items;
}

}  // namespace recflow
