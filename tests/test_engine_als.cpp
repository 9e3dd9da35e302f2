#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "recflow/actors/als_block.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"
#include "engine_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

rating_table load(const std::string& data) {
  if (data == "planted")
    return test::make_planted({.users = 120, .items = 90, .rank = 3, .density = 0.2}).table;
  auto t = read_ratings(test::data_dir() + "/ml-100k/u1.base");
  REQUIRE(t.has_value());
  return std::move(*t);
}

/// 0 difference in practice: same solver, same values, same order.
void require_same_model(const factor_model& got, const factor_model& ref) {
  test::require_equivalent(got, ref, true);
}

/// Brute force: distinct (entity, other side's block) pairs over the ratings, i.e. how
/// many rows of `owner`'s side must travel per half-iteration if each goes at most once
/// to each block that needs it.
std::uint64_t needed_rows(const rating_table& t, side owner, const partitioner& other) {
  std::set<std::pair<std::int64_t, std::size_t>> pairs;
  for (const auto& r : t.ratings) {
    auto u = t.users.external(r.user), i = t.items.external(r.item);
    pairs.emplace(owner == side::user ? std::pair{u, other(i)} : std::pair{i, other(u)});
  }
  return pairs.size();
}

}  // namespace

TEST_CASE("ALS block states driven by hand give train_als's model and ship each row once per block",
          "[actors][als]") {
  auto parts = GENERATE(std::uint32_t{1}, std::uint32_t{3});
  auto mode = GENERATE(bias_mode::joint, bias_mode::alternate);
  auto train = load("planted");
  als_params p{.rank = 4, .iterations = 3, .biases = mode};
  auto blocks = rating_blocks::build(train.ratings, train.users.size(), train.items.size());
  auto initial = als_initial_model(train, blocks, p);
  partitioner up = modulo_partitioner{parts}, ip = hash_partitioner{parts, 7};
  std::vector<std::uint32_t> ub(blocks.n_users()), ib(blocks.n_items());
  for (index_t u = 0; u < blocks.n_users(); ++u)
    ub[u] = std::uint32_t(up(train.users.external(blocks.user_of[u])));
  for (index_t i = 0; i < blocks.n_items(); ++i)
    ib[i] = std::uint32_t(ip(train.items.external(blocks.item_of[i])));
  auto plan = std::make_shared<const als_block_plan>(als_block_plan::build(blocks, ub, ib, parts));

  std::uint64_t item_out = 0, user_out = 0;
  for (std::uint32_t b = 0; b < parts; ++b) {
    item_out += plan->items[b].rows_out();
    user_out += plan->users[b].rows_out();
  }
  CHECK(item_out == needed_rows(train, side::item, up));
  CHECK(user_out == needed_rows(train, side::user, ip));

  std::vector<als_block_state> users, items;
  for (std::uint32_t b = 0; b < parts; ++b) {
    users.emplace_back(plan, side::user, b, p, initial);
    items.emplace_back(plan, side::item, b, p, initial);
  }
  // One half: every sender ships, every receiver takes and solves once complete.
  auto half = [&](std::vector<als_block_state>& from, std::vector<als_block_state>& to,
                  std::uint32_t it) {
    std::uint64_t rows = 0;
    std::vector<int> solved(parts, 0);
    for (auto& s : from)
      for (auto& m : s.ship(it)) {
        rows += m.bias.size();
        if (to[m.to].take(m)) {
          to[m.to].solve();
          ++solved[m.to];
        }
      }
    for (std::uint32_t b = 0; b < parts; ++b)
      CHECK(solved[b] == (to[b].layout().entities.empty() ? 0 : 1));
    return rows;
  };
  for (int it = 1; it <= p.iterations; ++it) {
    CHECK(half(items, users, std::uint32_t(it)) == needed_rows(train, side::item, up));
    CHECK(half(users, items, std::uint32_t(it)) == needed_rows(train, side::user, ip));
  }
  auto m = initial;
  for (auto* group : {&users, &items})
    for (auto& s : *group)
      write_back(s.layout(), s.bias(), s.factors().data(), m);
  auto ref = train_als(train, p);
  REQUIRE(ref.has_value());
  m.rated() = ref->rated();  // train_als_graph builds it; here only the factors matter
  require_same_model(m, *ref);
}

TEST_CASE("Batch ALS on the actor graph equals train_als for 1, 2 and 4 partitions",
          "[engine][equivalence][als]") {
  auto data = GENERATE(as<std::string>{}, "planted", "ml-100k");
  auto parts = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4});
  auto train = load(data);
  als_params p{.rank = 10, .iterations = 3};
  als_graph_options o;
  o.partitions = parts;
  o.workers = 2;
  o.user_partitioner = hash_partitioner{parts};
  o.item_partitioner = hash_partitioner{parts, 0x51ed};
  INFO(data << ", " << parts << " partition(s)");

  std::vector<double> ref_rmse;
  auto ref = train_als(train, p, [&](int, double rmse) { ref_rmse.push_back(rmse); });
  REQUIRE(ref.has_value());
  std::vector<als_sweep_metrics> sweeps;
  auto got = train_als_graph(train, p, o, [&](const als_sweep_metrics& s) { sweeps.push_back(s); });
  REQUIRE(got.has_value());
  require_same_model(*got, *ref);

  REQUIRE(sweeps.size() == std::size_t(p.iterations));
  auto item_rows = needed_rows(train, side::item, o.user_partitioner);
  auto user_rows = needed_rows(train, side::user, o.item_partitioner);
  for (std::size_t k = 0; k < sweeps.size(); ++k) {
    CHECK(sweeps[k].iteration == int(k) + 1);
    CHECK(sweeps[k].item_rows_shipped == item_rows);
    CHECK(sweeps[k].user_rows_shipped == user_rows);
    CHECK(sweeps[k].train_rmse == Approx(ref_rmse[k]).epsilon(1e-12));
  }
  if (parts == 1) {  // one block per side: every row travels exactly once
    CHECK(item_rows == got->n_items());
    CHECK(user_rows == got->n_users());
  }
}

TEST_CASE("Batch ALS on the graph rejects bad options with a readable message", "[engine][als]") {
  auto train = load("planted");
  als_graph_options o;
  SECTION("no partitions") {
    o.partitions = 0;
    auto r = train_als_graph(train, {}, o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().message == "partitions must be positive, got 0");
  }
  SECTION("partitioner of another size") {
    o.user_partitioner = hash_partitioner{3};
    auto r = train_als_graph(train, {}, o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().message == "user partitioner has 3 partitions, the graph has 2");
  }
  SECTION("bad ALS parameters") {
    auto r = train_als_graph(train, als_params{.rank = 0}, o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().message == "rank must be positive, got 0");
  }
}

TEST_CASE("Batch ALS on the graph handles empty blocks and runs without a progress callback",
          "[engine][als]") {
  // Three users and four items over 8 blocks: most blocks own nothing; modulo puts
  // users 1..3 and items 10..13 in known blocks.
  rating_table t;
  t.scale = {1.0, 5.0};
  auto add = [&](std::int64_t u, std::int64_t i, float v) {
    t.ratings.push_back({t.users.insert(u), t.items.insert(i), v, 0});
  };
  add(1, 10, 4.0f);
  add(1, 11, 3.0f);
  add(2, 10, 5.0f);
  add(3, 12, 2.0f);
  add(3, 13, 1.0f);
  add(2, 13, 3.5f);
  auto parts = GENERATE(std::size_t{1}, std::size_t{8});
  als_params p{.rank = 3, .iterations = 4};
  als_graph_options o;
  o.partitions = parts;
  o.user_partitioner = modulo_partitioner{parts};
  o.item_partitioner = modulo_partitioner{parts};
  auto got = train_als_graph(t, p, o);
  REQUIRE(got.has_value());
  require_same_model(*got, train_als(t, p).value());
}
