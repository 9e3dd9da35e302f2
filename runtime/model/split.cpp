#include "recflow/model/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "recflow/model/random.hpp"

namespace recflow {

namespace {

std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::mt19937_64 gen(seed);
  // Fisher-Yates with our own bounded draws: std::shuffle's output differs across
  // standard libraries, and splits must be the same everywhere.
  for (std::size_t k = n; k > 1; --k) {
    auto j = static_cast<std::size_t>(gen() % k);
    std::swap(perm[k - 1], perm[j]);
  }
  return perm;
}

}  // namespace

split_ratings random_split(std::span<const rating> rs, double train_fraction,
                           std::uint64_t seed) {
  auto perm = seeded_permutation(rs.size(), seed);
  auto n_train = static_cast<std::size_t>(
    std::llround(std::clamp(train_fraction, 0.0, 1.0) * static_cast<double>(rs.size())));
  std::vector<char> in_train(rs.size(), 0);
  for (std::size_t k = 0; k < n_train; ++k)
    in_train[perm[k]] = 1;
  split_ratings out;
  out.train.reserve(n_train);
  out.test.reserve(rs.size() - n_train);
  for (std::size_t k = 0; k < rs.size(); ++k)
    (in_train[k] ? out.train : out.test).push_back(rs[k]);
  return out;
}

split_ratings k_fold(std::span<const rating> rs, int k, int fold, std::uint64_t seed) {
  auto perm = seeded_permutation(rs.size(), seed);
  std::vector<int> fold_of(rs.size());
  for (std::size_t j = 0; j < perm.size(); ++j)
    fold_of[perm[j]] = static_cast<int>(j % static_cast<std::size_t>(k));
  split_ratings out;
  for (std::size_t j = 0; j < rs.size(); ++j)
    (fold_of[j] == fold ? out.test : out.train).push_back(rs[j]);
  return out;
}

split_ratings leave_latest_out(std::span<const rating> rs, std::uint64_t seed) {
  index_t users = 0;
  for (const auto& r : rs)
    users = std::max(users, r.user + 1);
  // Per user: how many ratings, the latest timestamp, and how many ratings carry it.
  std::vector<std::size_t> count(users, 0), ties(users, 0);
  std::vector<std::int64_t> latest(users, 0);
  for (const auto& r : rs) {
    if (count[r.user]++ == 0 || r.timestamp > latest[r.user]) {
      latest[r.user] = r.timestamp;
      ties[r.user] = 0;
    }
    if (r.timestamp == latest[r.user])
      ++ties[r.user];
  }
  // The tie to hold out, then the ratings in order: the chosen one goes to test.
  std::vector<std::size_t> pick(users, 0);
  for (index_t u = 0; u < users; ++u)
    if (ties[u] > 1)
      pick[u] = splitmix64(splitmix64_hash(seed) ^ splitmix64_hash(u)).below(
          static_cast<std::uint32_t>(ties[u]));
  split_ratings out;
  out.train.reserve(rs.size());
  for (const auto& r : rs) {
    bool held = count[r.user] >= 2 && r.timestamp == latest[r.user] && pick[r.user]-- == 0;
    (held ? out.test : out.train).push_back(r);
  }
  return out;
}

split_ratings time_split(std::span<const rating> rs, double train_fraction) {
  std::vector<rating> all(rs.begin(), rs.end());
  order_ratings(all, stream_order::time, 0);
  const double f = std::clamp(train_fraction, 0.0, 1.0);
  const auto n_train = static_cast<std::size_t>(std::llround(double(all.size()) * f));
  split_ratings out;
  out.test.assign(all.begin() + std::ptrdiff_t(n_train), all.end());
  all.resize(n_train);
  out.train = std::move(all);
  return out;
}

void order_ratings(std::vector<rating>& rs, stream_order order, std::uint64_t seed) {
  if (order == stream_order::time) {
    std::stable_sort(rs.begin(), rs.end(),
                     [](const rating& a, const rating& b) { return a.timestamp < b.timestamp; });
    return;
  }
  auto perm = seeded_permutation(rs.size(), seed);
  std::vector<rating> out(rs.size());
  for (std::size_t k = 0; k < rs.size(); ++k)
    out[k] = rs[perm[k]];
  rs.swap(out);
}

}  // namespace recflow
