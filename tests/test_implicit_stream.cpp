// Streaming implicit ALS in the model layer: the exact Gram sum, the reference trainer,
// the same steps run over several shards per side (what the graph does), seeding from
// batch implicit ALS, bad input, and a planted set whose true top items are known.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "recflow/model/exact_gram.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/random.hpp"
#include "recflow/model/recommend.hpp"
#include "support/planted_groups.hpp"

using namespace recflow;

namespace {

std::vector<float> random_row(splitmix64& rng, int rank, double scale = 1.0) {
  std::vector<float> row(static_cast<std::size_t>(rank), 0.0f);
  for (auto& v : row)
    v = float(scale * (rng.uniform() * 2.0 - 1.0));
  return row;
}

/// The steps of one batch over `shards` shards per side, run one shard after another,
/// with the shard of a key from its hash (what the actor graph runs, without actors).
struct sharded_stream {
  implicit_stream_params p;
  std::vector<std::unique_ptr<implicit_shard>> users, items;
  std::uint64_t stamp = 0, batches = 0;

  sharded_stream(const implicit_stream_params& params, std::uint32_t shards) : p(params) {
    for (std::uint32_t s = 0; s < shards; ++s) {
      users.push_back(std::make_unique<implicit_shard>(side::user, p));
      items.push_back(std::make_unique<implicit_shard>(side::item, p));
    }
  }
  std::uint32_t shard_of(std::int64_t id, std::uint64_t salt) const {
    return std::uint32_t(splitmix64_hash(std::uint64_t(id) ^ salt) % users.size());
  }
  static std::vector<const implicit_shard*> view(const std::vector<std::unique_ptr<implicit_shard>>& v) {
    std::vector<const implicit_shard*> out;
    for (const auto& s : v)
      out.push_back(s.get());
    return out;
  }
  Eigen::MatrixXd gram(const std::vector<std::unique_ptr<implicit_shard>>& side) const {
    exact_gram g(p.als.rank);
    for (auto it = side.rbegin(); it != side.rend(); ++it)  // any order gives the same sum
      g.add((*it)->gram());
    return g.to_matrix();
  }
  void apply(std::span<const rating> batch, const id_map& uids, const id_map& iids) {
    auto events = to_events(batch, uids, iids).value();
    REQUIRE(stamp_events(events, stamp));
    stamp += batch.size();
    ++batches;
    for (std::uint32_t s = 0; s < users.size(); ++s) {
      std::vector<stamped_event> mine_u, mine_i;
      for (const auto& e : events) {
        if (shard_of(e.user, 0) == s)
          mine_u.push_back(e);
        if (shard_of(e.item, 0x51ed) == s)
          mine_i.push_back(e);
      }
      users[s]->add_events(mine_u, batches);
      items[s]->add_events(mine_i, batches);
    }
    const implicit_side_view uv{view(users), [this](std::int64_t id) { return shard_of(id, 0); }};
    const implicit_side_view iv{view(items), [this](std::int64_t id) { return shard_of(id, 0x51ed); }};
    for (int pass = 0; pass < p.passes; ++pass) {
      const auto gi = gram(items);
      for (auto& s : users)
        s->solve(iv, gi);
      const auto gu = gram(users);
      for (auto& s : items)
        s->solve(uv, gu);
    }
  }
  factor_model model() const {
    return assemble_implicit_model(view(users), view(items), p.als.rank);
  }
};

/// A seeded stream of events over 60 users and 40 items, some pairs repeated.
rating_table random_events(std::size_t n) {
  rating_table t;
  splitmix64 rng(11);
  for (int u = 0; u < 60; ++u)
    t.users.insert(500 + 7 * u);
  for (int i = 0; i < 40; ++i)
    t.items.insert(90000 - 13 * i);
  for (std::size_t j = 0; j < n; ++j)
    t.ratings.push_back({rng.below(60), rng.below(40), float(1 + rng.below(4)), std::int64_t(j)});
  return t;
}

}  // namespace

TEST_CASE("exact gram: order-free sums, exact removal, within its bound of the double sum",
          "[implicit][stream]") {
  splitmix64 rng(3);
  const int rank = 7;
  std::vector<std::vector<float>> rows;
  for (int j = 0; j < 200; ++j)
    rows.push_back(random_row(rng, rank, 3.0));
  exact_gram forward(rank), backward(rank), split_a(rank), split_b(rank);
  for (const auto& r : rows)
    forward.add(r);
  for (auto it = rows.rbegin(); it != rows.rend(); ++it)
    backward.add(*it);
  for (std::size_t j = 0; j < rows.size(); ++j)
    (j % 3 == 0 ? split_a : split_b).add(rows[j]);
  split_a.add(split_b);
  CHECK(forward == backward);
  CHECK(forward == split_a);

  // Moving a row: remove the old, add the new; equal to summing the new rows afresh.
  exact_gram moved = forward, fresh(rank);
  const auto replacement = random_row(rng, rank, 2.0);
  moved.remove(rows[17]);
  moved.add(replacement);
  rows[17] = replacement;
  for (const auto& r : rows)
    fresh.add(r);
  CHECK(moved == fresh);

  Eigen::MatrixXd exact = Eigen::MatrixXd::Zero(rank, rank);
  for (const auto& r : rows)
    for (int a = 0; a < rank; ++a)
      for (int b = 0; b < rank; ++b)
        exact(a, b) += double(r[std::size_t(a)]) * double(r[std::size_t(b)]);
  const auto g = fresh.to_matrix();
  CHECK((g - exact).cwiseAbs().maxCoeff() <= 200 * 0x1p-50 + 1e-12 * exact.cwiseAbs().maxCoeff());
  CHECK(g.isApprox(g.transpose(), 0.0));

  exact_gram back;
  REQUIRE(back.assign(rank, fresh.words()));
  CHECK(back == fresh);
  CHECK_FALSE(back.assign(rank + 1, fresh.words()));
}

TEST_CASE("implicit stream: shards of any count give the reference's model bit for bit",
          "[implicit][stream][equivalence]") {
  const auto t = random_events(900);
  implicit_stream_params p;
  p.als.rank = 6;
  p.refresh_every = 3;
  for (auto solver : {implicit_solver::cholesky, implicit_solver::cg}) {
    p.als.solver = solver;
    auto ref = implicit_stream_trainer::make(p).value();
    sharded_stream two(p, 2), three(p, 3);
    for (std::size_t b = 0; b < t.ratings.size(); b += 100) {
      std::span<const rating> batch(t.ratings.data() + b, 100);
      REQUIRE(ref.apply(batch, t.users, t.items));
      two.apply(batch, t.users, t.items);
      three.apply(batch, t.users, t.items);
    }
    const auto m = ref.model();
    CHECK(m.n_users() == 60);
    CHECK(m.n_items() == 40);
    CHECK(m == two.model());
    CHECK(m == three.model());
    CHECK(ref.batches() == 9);
  }
}

TEST_CASE("implicit stream: a planted set's true top items come first", "[implicit][stream]") {
  const auto d = test::make_planted_groups();
  implicit_stream_params p;
  p.als.rank = 4;
  p.als.lambda = 1.0;
  p.als.recency_boost = 0.0;
  auto t = implicit_stream_trainer::make(p).value();
  // The events in batches of 40, twice over (a second pass over the data: repeated events
  // add up, which keeps every pair's events and doubles the weights).
  for (int round = 0; round < 2; ++round)
    for (std::size_t b = 0; b < d.table.ratings.size(); b += 40) {
      const auto n = std::min<std::size_t>(40, d.table.ratings.size() - b);
      REQUIRE(t.apply({d.table.ratings.data() + b, n}, d.table.users, d.table.items));
    }
  const auto m = t.model();
  int correct = 0, total = 0;
  for (index_t u = 0; u < m.n_users(); ++u) {
    const auto group = m.users().external(u) / test::planted_groups::users_per_group;
    auto top = recommend(m, u, {.n = 4});
    for (const auto& s : top) {
      ++total;
      const auto item = m.items().external(s.item) - 1000;
      correct += item / test::planted_groups::items_per_group == group ? 1 : 0;
    }
  }
  CHECK(total == 60 * 4);
  CHECK(correct >= total * 95 / 100);
}

TEST_CASE("implicit stream: continues from a batch model and keeps its events",
          "[implicit][stream]") {
  const auto t = random_events(600);
  implicit_params batch_p;
  batch_p.rank = 5;
  batch_p.iterations = 5;
  const auto first = t.with_ratings({t.ratings.begin(), t.ratings.begin() + 400});
  const auto seed = train_implicit_als(first, batch_p).value();
  implicit_stream_params p;
  p.als = batch_p;
  auto s = implicit_stream_trainer::make(p, &seed).value();
  const auto before = s.model();
  CHECK(before.U() == seed.U());  // same ids in the same (increasing) order here
  CHECK(before.rated().items.size() == seed.rated().items.size());
  REQUIRE(s.apply({t.ratings.data() + 400, 200}, t.users, t.items));
  const auto after = s.model();
  // A user's events from the batch model are still its events (the batch model counts a
  // repeated pair twice, the stream once: compare the items, not the counts).
  for (index_t u = 0; u < seed.n_users(); ++u) {
    const auto au = after.users().find(seed.users().external(u));
    REQUIRE(au != id_map::npos);
    const auto now = after.rated().of(au);
    for (index_t i : seed.rated().of(u)) {
      const auto ai = after.items().find(seed.items().external(i));
      CHECK(std::find(now.begin(), now.end(), ai) != now.end());
    }
  }
  p.als.rank = 6;
  CHECK_FALSE(implicit_stream_trainer::make(p, &seed));
}

TEST_CASE("implicit stream: bad weights and indices fail and change nothing",
          "[implicit][stream]") {
  auto t = random_events(50);
  implicit_stream_params p;
  p.als.rank = 4;
  auto s = implicit_stream_trainer::make(p).value();
  REQUIRE(s.apply({t.ratings.data(), 20}, t.users, t.items));
  const auto before = s.model();
  t.ratings[25].value = -1.0f;
  auto bad = s.apply({t.ratings.data() + 20, 10}, t.users, t.items);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("event 6 of the batch has weight -1") != std::string::npos);
  t.ratings[25].value = 1.0f;
  t.ratings[26].item = 4000;
  CHECK_FALSE(s.apply({t.ratings.data() + 20, 10}, t.users, t.items));
  CHECK(s.model() == before);
  CHECK(s.batches() == 1);

  p.als.weighting = event_weighting::bm25;
  CHECK(implicit_stream_trainer::make(p).err().message.find("weighting none") != std::string::npos);
  p.als.weighting = event_weighting::none;
  p.passes = 0;
  CHECK_FALSE(implicit_stream_trainer::make(p));
}
