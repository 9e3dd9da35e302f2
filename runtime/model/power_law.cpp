#include "recflow/model/power_law.hpp"
#include "recflow/model/random.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace recflow {

namespace {

error invalid(std::string m) { return error{errc::invalid_argument, std::move(m)}; }

id_map dense_ids(std::uint32_t n) {
  std::vector<std::int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), std::int64_t{1});
  id_map m;
  id_map::from_externals(ids, m);
  return m;
}

}  // namespace

power_law_params power_law_params::for_ratings(std::uint64_t n, std::uint64_t seed) {
  power_law_params p;
  p.ratings = n;
  p.users = static_cast<std::uint32_t>(std::max<std::uint64_t>(10, n / 20));
  p.items = static_cast<std::uint32_t>(std::max<std::uint64_t>(10, n / 200));
  p.seed = seed;
  return p;
}

result<void> validate(const power_law_params& p) {
  if (p.users == 0)
    return invalid("users must be positive, got 0");
  if (p.items == 0)
    return invalid("items must be positive, got 0");
  if (!(p.user_exponent >= 0.0) || !std::isfinite(p.user_exponent))
    return invalid("user exponent must be finite and >= 0, got " + std::to_string(p.user_exponent));
  if (!(p.item_exponent >= 0.0) || !std::isfinite(p.item_exponent))
    return invalid("item exponent must be finite and >= 0, got " + std::to_string(p.item_exponent));
  return {};
}

void power_law_generator::alias_table::build(std::uint32_t n, double exponent, std::uint64_t seed) {
  // Vose's alias method over weights (k+1)^-s, scaled to mean 1.
  std::vector<double> w(n);
  double sum = 0;
  for (std::uint32_t k = 0; k < n; ++k)
    sum += (w[k] = std::pow(double(k) + 1.0, -exponent));
  for (auto& x : w)
    x *= double(n) / sum;
  prob.assign(n, 1.0f);
  alias.resize(n);
  std::iota(alias.begin(), alias.end(), 0u);
  std::vector<std::uint32_t> small, large;
  for (std::uint32_t k = 0; k < n; ++k)
    (w[k] < 1.0 ? small : large).push_back(k);
  while (!small.empty() && !large.empty()) {
    auto s = small.back(), l = large.back();
    small.pop_back();
    prob[s] = static_cast<float>(w[s]);
    alias[s] = l;
    w[l] -= 1.0 - w[s];
    if (w[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Seeded Fisher-Yates: rank k lives at dense index index_of_rank[k].
  index_of_rank.resize(n);
  std::iota(index_of_rank.begin(), index_of_rank.end(), 0u);
  for (std::uint32_t k = n; k > 1; --k) {
    auto j = static_cast<std::uint32_t>(splitmix64_next(seed) % k);
    std::swap(index_of_rank[k - 1], index_of_rank[j]);
  }
}

std::uint32_t power_law_generator::alias_table::draw(std::uint64_t r) const noexcept {
  auto n = prob.size();
  // The top 32 bits pick the bucket (multiply-shift, n < 2^32), the low 24 the side.
  auto k = static_cast<std::uint32_t>(((r >> 32) * n) >> 32);
  float u = static_cast<float>(r & 0xffffff) * 0x1.0p-24f;
  return index_of_rank[u < prob[k] ? k : alias[k]];
}

power_law_generator::power_law_generator(const power_law_params& p) : p_(p) {
  users_.build(p.users, p.user_exponent, p.seed ^ 0x75736572);
  items_.build(p.items, p.item_exponent, p.seed ^ 0x6974656d);
  restart();
}

void power_law_generator::restart() {
  produced_ = 0;
  state_ = p_.seed;
}

bool power_law_generator::next(std::vector<rating>& out, std::size_t n) {
  out.clear();
  auto count = std::min<std::uint64_t>(n, p_.ratings - produced_);
  out.reserve(count);
  for (std::uint64_t k = 0; k < count; ++k) {
    auto a = splitmix64_next(state_), b = splitmix64_next(state_);
    float value = static_cast<float>(1 + ((a >> 24) & 0xffff) % 5);  // middle bits: unused by draw
    out.push_back({users_.draw(a), items_.draw(b), value, std::int64_t(produced_ + k + 1)});
  }
  produced_ += count;
  return count > 0;
}

id_map power_law_generator::user_ids() const { return dense_ids(p_.users); }
id_map power_law_generator::item_ids() const { return dense_ids(p_.items); }

rating_table power_law_table(const power_law_params& p) {
  power_law_generator g(p);
  rating_table t;
  g.next(t.ratings, p.ratings);
  t.users = g.user_ids();
  t.items = g.item_ids();
  t.scale = {1.0, 5.0};
  return t;
}

}  // namespace recflow
