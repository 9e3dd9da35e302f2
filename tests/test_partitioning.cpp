// Partitioning strategies, the power-law generator and the cost simulation (no CAF).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "recflow/graph/partition_plan.hpp"
#include "recflow/model/power_law.hpp"

using namespace recflow;

namespace {

power_law_params small_power_law(std::uint64_t ratings, std::uint64_t seed = 3) {
  auto p = power_law_params::for_ratings(ratings, seed);
  return p;
}

std::vector<partition_cost> simulate_all(const rating_table& t, std::size_t n, std::size_t batch,
                                         const cost_model& m = {}) {
  key_degrees d(t.users.size(), t.items.size());
  d.add(t.ratings);
  std::vector<partition_plan> plans;
  for (const auto& s : partition_strategies())
    plans.push_back(make_plan(s, n, t.users, t.items, d.users, d.items).value());
  return simulate(t.ratings, t.users.size(), t.items.size(), std::move(plans), batch, m);
}

const partition_cost& find(const std::vector<partition_cost>& cs, const std::string& s) {
  auto it = std::find_if(cs.begin(), cs.end(), [&](const auto& c) { return c.strategy == s; });
  REQUIRE(it != cs.end());
  return *it;
}

}  // namespace

TEST_CASE("partitioners: every strategy is deterministic and total over any key", "[partition]") {
  auto strategy = GENERATE(from_range(partition_strategies()));
  auto n = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{16});
  INFO(strategy << " over " << n);
  // Fit on keys 1..500 with skewed degrees; probe fitted, unseen, negative and huge keys.
  std::vector<std::int64_t> keys;
  std::vector<std::uint64_t> degrees;
  for (std::int64_t k = 1; k <= 500; ++k) {
    keys.push_back(k);
    degrees.push_back(std::uint64_t(1000 / k + 1));
  }
  std::vector<std::int64_t> probes{0, -1, -977, std::numeric_limits<std::int64_t>::min(),
                                   std::numeric_limits<std::int64_t>::max()};
  for (std::int64_t k = 1; k <= 2000; ++k)
    probes.push_back(k * 7919);
  probes.insert(probes.end(), keys.begin(), keys.end());
  if (strategy == "grid") {
    auto g = grid_partitioner::square(n);
    REQUIRE(g.partitions() == n);
    auto copy = g;
    for (auto u : probes)
      for (auto i : {std::int64_t{1}, std::int64_t{-5}, u / 3}) {
        auto p = g(u, i);
        REQUIRE(p < n);
        REQUIRE(p == copy(u, i));
        REQUIRE(g.user_owner(u) / g.cols == g.row_of(u));  // owned within its row
        REQUIRE(g.item_owner(i) % g.cols == g.col_of(i));  // owned within its column
      }
    return;
  }
  auto p = make_key_partitioner(strategy, n, keys, degrees, 9);
  REQUIRE(p.valid());
  REQUIRE(p.partitions() == n);
  auto again = make_key_partitioner(strategy, n, keys, degrees, 9);  // refitted from scratch
  for (auto k : probes) {
    auto a = p(k);
    REQUIRE(a < n);
    REQUIRE(a == p(k));
    REQUIRE(a == again(k));
  }
}

TEST_CASE("partitioners: a range partitioner keeps ranges contiguous and fits balanced bounds",
          "[partition]") {
  range_partitioner given{{10, 20}};
  CHECK(given.partitions() == 3);
  CHECK(given(-5) == 0);
  CHECK(given(9) == 0);
  CHECK(given(10) == 1);
  CHECK(given(19) == 1);
  CHECK(given(20) == 2);
  CHECK(given(1'000'000) == 2);
  // 100 keys of weight 1 and key 1000 of weight 100: two halves of 100 ratings each.
  std::vector<std::int64_t> keys{1000};
  std::vector<std::uint64_t> weights{100};
  for (std::int64_t k = 1; k <= 100; ++k) {
    keys.push_back(k);
    weights.push_back(1);
  }
  auto fit = range_partitioner::fit(keys, weights, 2);
  REQUIRE(fit.upper.size() == 1);
  CHECK(fit(100) == 0);
  CHECK(fit(1000) == 1);
  CHECK(range_partitioner::fit(keys, weights, 300).partitions() == 300);  // more ranges than keys
}

TEST_CASE("power-law generator: seeded, restartable, skewed and streamed in batches", "[partition]") {
  auto p = small_power_law(100'000);
  power_law_generator a(p), b(p);
  std::vector<rating> x, y, all;
  std::size_t batches = 0;
  while (a.next(x, 7'000)) {
    REQUIRE(b.next(y, 7'000));
    REQUIRE(x.size() <= 7'000);
    REQUIRE(std::equal(x.begin(), x.end(), y.begin(), y.end(), [](auto& r, auto& s) {
      return r.user == s.user && r.item == s.item && r.value == s.value;
    }));
    all.insert(all.end(), x.begin(), x.end());
    ++batches;
  }
  CHECK(batches == 15);
  CHECK(all.size() == 100'000);
  a.restart();
  REQUIRE(a.next(x, 10));
  CHECK(x.front().user == all.front().user);
  CHECK(x.front().item == all.front().item);
  key_degrees d(p.users, p.items);
  d.add(all);
  auto users = d.users;
  std::sort(users.rbegin(), users.rend());
  std::uint64_t top = 0;
  for (std::size_t k = 0; k < users.size() / 100; ++k)
    top += users[k];
  CHECK(double(top) / 100'000.0 > 0.05);  // the top 1% of users hold over 5% of the ratings
  CHECK(*std::max_element(d.items.begin(), d.items.end()) > 20 * 100'000 / p.items);
  auto other = small_power_law(100'000, 4);
  CHECK(power_law_table(other).ratings.front().user != power_law_table(p).ratings.front().user);
}

TEST_CASE("partitioners: degree-aware beats hashing on imbalance for a power-law set", "[partition]") {
  auto t = power_law_table(small_power_law(200'000));
  auto n = GENERATE(std::size_t{4}, std::size_t{8}, std::size_t{16});
  auto costs = simulate_all(t, n, 1000);
  const auto& degree = find(costs, "degree");
  INFO("n " << n << ": degree " << degree.imbalance << ", hash-user " << find(costs, "hash-user").imbalance
            << ", hash-item " << find(costs, "hash-item").imbalance);
  CHECK(degree.imbalance < find(costs, "hash-user").imbalance);
  CHECK(degree.imbalance < find(costs, "hash-item").imbalance);
  CHECK(degree.imbalance < find(costs, "random").imbalance);
  CHECK(degree.imbalance < 1.01);
}

TEST_CASE("partitioners: adding a partition moves about 1/(n+1) of keys under consistent "
          "hashing and most keys under modulo hashing", "[partition]") {
  auto n = GENERATE(std::size_t{2}, std::size_t{4}, std::size_t{8}, std::size_t{16});
  auto ring = consistent_hash_partitioner::make(n), grown = consistent_hash_partitioner::make(n + 1);
  hash_partitioner hash{n}, hash_grown{n + 1};
  std::size_t keys = 100'000, ring_moved = 0, hash_moved = 0;
  for (std::int64_t k = 1; k <= std::int64_t(keys); ++k) {
    ring_moved += ring(k) != grown(k);
    hash_moved += hash(k) != hash_grown(k);
  }
  double ring_share = double(ring_moved) / double(keys), hash_share = double(hash_moved) / double(keys);
  INFO("n " << n << ": consistent moves " << ring_share << ", modulo hashing " << hash_share);
  CHECK(ring_share <= 1.5 / double(n + 1));
  CHECK(ring_share > 0.5 / double(n + 1));  // the new partition does get keys
  CHECK(hash_share > 0.6);
  CHECK(hash_share == Approx(double(n) / double(n + 1)).epsilon(0.02));
}

TEST_CASE("cost simulation: counts equal a brute-force count on a small set", "[partition]") {
  auto p = power_law_params::for_ratings(4'000, 11);
  p.users = 150;
  p.items = 90;
  auto t = power_law_table(p);
  auto n = GENERATE(std::size_t{3}, std::size_t{4});
  cost_model m{.rank = 7, .rating_bytes = 32, .passes = 2};
  const std::size_t batch = 250;
  auto costs = simulate_all(t, n, batch, m);
  key_degrees d(t.users.size(), t.items.size());
  d.add(t.ratings);
  for (const auto& c : costs) {
    INFO(c.strategy << " over " << n);
    auto plan = make_plan(c.strategy, n, t.users, t.items, d.users, d.items).value();
    std::vector<std::uint64_t> per(n);
    std::uint64_t fetched = 0, messages = 0, batches = 0;
    double batch_imbalance = 0;
    for (std::size_t at = 0; at < t.size(); at += batch, ++batches) {
      std::set<std::pair<std::size_t, std::int64_t>> needed;  // (partition, +user+1 / -item-1)
      std::set<std::pair<std::size_t, std::size_t>> pairs;
      std::set<std::size_t> slices;
      std::map<std::size_t, std::size_t> in_batch;
      for (std::size_t k = at; k < std::min(t.size(), at + batch); ++k) {
        const auto& r = t.ratings[k];
        auto uid = t.users.external(r.user), iid = t.items.external(r.item);
        std::size_t part = c.strategy == "grid" ? grid_partitioner::square(n)(uid, iid)
                           : c.strategy == "hash-item" ? plan.item_owner[r.item] : plan.user_owner[r.user];
        REQUIRE(part == plan.partition_of(r));
        ++per[part];
        ++in_batch[part];
        slices.insert(part);
        if (plan.user_owner[r.user] != part && needed.insert({part, std::int64_t(r.user) + 1}).second)
          pairs.insert({part, plan.user_owner[r.user]});
        if (plan.item_owner[r.item] != part && needed.insert({part, -std::int64_t(r.item) - 1}).second)
          pairs.insert({part, plan.item_owner[r.item]});
      }
      std::size_t busiest = 0, size = std::min(t.size(), at + batch) - at;
      for (auto [q, count] : in_batch)
        busiest = std::max(busiest, count);
      batch_imbalance += double(busiest) * double(n) / double(size);
      fetched += needed.size();
      messages += slices.size() + 2 * pairs.size() * 2;  // two passes
    }
    CHECK(c.per_partition == per);
    CHECK(c.batches == batches);
    CHECK(c.batch_imbalance == Approx(batch_imbalance / double(batches)));
    CHECK(c.fetched_per_batch == Approx(double(fetched) / double(batches)));
    CHECK(c.messages_per_batch == Approx(double(messages) / double(batches)));
    double bytes = double(t.size()) * 32 + double(fetched) * 2 * 8 * 8 * 2;  // rank 7 + bias, 2 ways, 2 passes
    CHECK(c.bytes_per_batch == Approx(bytes / double(batches)));
    auto mx = *std::max_element(per.begin(), per.end());
    CHECK(c.imbalance == Approx(double(mx) * double(n) / double(t.size())));
  }
}

TEST_CASE("cost simulation: keys moved counts owners that differ", "[partition]") {
  auto t = power_law_table(power_law_params::for_ratings(20'000, 5));
  key_degrees d(t.users.size(), t.items.size());
  d.add(t.ratings);
  auto a = make_plan("hash-user", 4, t.users, t.items, d.users, d.items).value();
  auto b = make_plan("hash-user", 5, t.users, t.items, d.users, d.items).value();
  std::uint64_t brute = 0;
  for (std::size_t k = 0; k < a.user_owner.size(); ++k)
    brute += hash_partitioner{4}(t.users.external(index_t(k))) != hash_partitioner{5}(t.users.external(index_t(k)));
  for (std::size_t k = 0; k < a.item_owner.size(); ++k)
    brute += hash_partitioner{4, item_salt}(t.items.external(index_t(k))) !=
             hash_partitioner{5, item_salt}(t.items.external(index_t(k)));
  CHECK(keys_moved(a, b) == brute);
  CHECK(keys_moved(a, a) == 0);
  CHECK_FALSE(make_plan("nonsense", 4, t.users, t.items, d.users, d.items));
  CHECK_FALSE(make_plan("hash-user", 0, t.users, t.items, d.users, d.items));
}
