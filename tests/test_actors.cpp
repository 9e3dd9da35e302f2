#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>

#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/partition.hpp"
#include "recflow/actors/source.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/engine/snapshot.hpp"
#include "recflow/model/streaming.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

stamped_batch make_stamped(const rating_batch& b, std::uint64_t number, std::uint64_t offset,
                           double& mu, std::uint64_t& count) {
  mu = fold_mean(mu, count, b);
  return {{number, offset, mu, count, false}, b};
}

}  // namespace

TEST_CASE("source state: batches, then the end, and exceptions become errors", "[actors]") {
  int calls = 0;
  source_state ok(source_from([&]() -> std::optional<rating_batch> {
    if (++calls > 2)
      return std::nullopt;
    return rating_batch{{{1, 2, 3.0f, 0}}};
  }));
  CHECK(ok.pull().kind == source_event::batch);
  CHECK(ok.pull().kind == source_event::batch);
  CHECK(ok.pull().kind == source_event::end);
  CHECK(ok.pull().kind == source_event::end);  // stays ended without calling again
  CHECK(calls == 3);
  CHECK(ok.batches() == 2);

  source_state throwing(source_from([]() -> std::optional<rating_batch> {
    throw std::runtime_error("socket closed");
  }));
  auto ev = throwing.pull();
  REQUIRE(ev.kind == source_event::failed);
  CHECK(ev.err.message == "source threw: socket closed");
}

TEST_CASE("partition state: each rating goes to its user's and its item's owner in batch order",
          "[actors]") {
  auto n = GENERATE(std::size_t{1}, std::size_t{3});
  hash_partitioner by_user{n}, by_item{n, 5};
  partition_state part(by_user, by_item);
  rating_batch b;
  for (int k = 0; k < 200; ++k)
    b.ratings.push_back({k % 17, k % 11, float(k % 5 + 1), k});
  double mu = 0;
  std::uint64_t count = 0;
  auto out = part.split(make_stamped(b, 0, 0, mu, count));
  REQUIRE(out.users.size() == n);
  REQUIRE(out.items.size() == n);
  std::size_t users = 0, items = 0;
  for (std::uint32_t s = 0; s < n; ++s) {
    std::uint32_t last = 0;
    for (const auto& r : out.users[s].routes) {
      CHECK(by_user(r.user) == s);
      CHECK(b.ratings[r.pos].user == r.user);
      CHECK(by_item(b.ratings[r.pos].item) == r.item_shard);
      CHECK((users == 0 || r.pos >= last));
      last = r.pos;
      ++users;
    }
    for (const auto& r : out.items[s].routes) {
      CHECK(by_item(r.item) == s);
      CHECK(b.ratings[r.pos].value == r.value);
      CHECK(by_user(b.ratings[r.pos].user) == r.user_shard);
      ++items;
    }
    CHECK(out.users[s].stamp.mu == mu);
  }
  CHECK(users == 200);
  CHECK(items == 200);
}

TEST_CASE("block index: each block lists its distinct keys once, in order of first sight",
          "[actors]") {
  block_index blocks;
  blocks.reset(2);
  for (auto [slot, block] : {std::pair{4u, 0u}, {2u, 1u}, {4u, 0u}, {4u, 1u}, {7u, 0u}})
    blocks.add(slot, block);
  CHECK(blocks.distinct(0) == std::vector<std::uint32_t>{4, 7});
  CHECK(blocks.local(0) == std::vector<std::uint32_t>{0, 0, 1});
  CHECK(blocks.distinct(1) == std::vector<std::uint32_t>{2, 4});
  CHECK(blocks.pos_of(3) == 1);
  CHECK(blocks.block_of(4) == 0);
  blocks.reset(2);
  blocks.add(7, 1);
  CHECK(blocks.distinct(0).empty());
  CHECK(blocks.local(1) == std::vector<std::uint32_t>{0});
}

TEST_CASE("block index: group orders the ratings by slot, each slot's in batch order",
          "[actors]") {
  block_index blocks;
  blocks.reset(2);
  // Ratings (slot, block) in batch order: slot 1 has three, in blocks 0, 1, 0.
  for (auto [slot, block] : {std::pair{1u, 0u}, {0u, 1u}, {1u, 1u}, {2u, 0u}, {1u, 0u}})
    blocks.add(slot, block);
  std::vector<double> values{10, 20, 30, 40, 50};
  blocks.group(3, &values);
  std::vector<std::uint32_t> slots, pos;
  for (const auto& e : blocks.entries()) {
    slots.push_back(e.slot);
    pos.push_back(e.pos);
  }
  CHECK(slots == std::vector<std::uint32_t>{0, 1, 1, 1, 2});
  CHECK(pos == std::vector<std::uint32_t>{0, 0, 1, 2, 1});  // each rating's place in its block
  CHECK(values == std::vector<double>{20, 10, 30, 50, 40});  // moved with their ratings
  // What goes on the wire (block order) does not move.
  CHECK(blocks.slots(0) == std::vector<std::uint32_t>{1, 2, 1});
  CHECK(blocks.local(0) == std::vector<std::uint32_t>{0, 1, 0});
}

TEST_CASE("shard store: every key a batch touches carries that batch's version", "[actors]") {
  shard_store store(side::item, 4, 42, 0.1);
  auto a = store.touch(7, 0);  // before any batch: version 0, as a seed's keys
  CHECK(store.version() == 0);
  CHECK(store.changed(a) == 0);
  store.begin_batch();
  auto b = store.touch(1LL << 40, 1);  // a large id: the hash map, stamped the same way
  CHECK(store.changed(b) == 1);
  CHECK(store.changed(a) == 0);
  store.begin_batch();
  store.begin_batch();
  CHECK(store.touch(7, 2) == a);
  CHECK(store.version() == 3);
  CHECK(store.changed(a) == 3);
  CHECK(store.changed(b) == 1);
}

TEST_CASE("gradient sums: one key's sums in order, one capped step, written back",
          "[actors]") {
  stream_params p;
  p.rank = 8;
  shard_store store(side::user, 8, 42, 0.1);
  auto a = store.touch(100, 0), b = store.touch(200, 1);
  CHECK(store.touch(100, 5) == a);
  gradient_sums sums;
  sums.reset(8, 3, true);
  auto sa = sums.slot(a), sb = sums.slot(b);
  CHECK(sums.slot(a) == sa);
  sums.gather(store);
  CHECK(sums.row(sa)[1] == store.row(a)[1]);
  sums.count_rating(sa);
  sums.count_rating(sa);
  sums.count_rating(sb);
  std::vector<float> x{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
  double x1 = store.row(a)[1], xb = store.row(b)[1];
  // The factor step in float, as stream_kernel's apply_step takes it: rate and decay
  // rounded once, then x + g * (g_x - l * x).
  const auto g_rate = static_cast<float>(p.gamma);
  const auto expect = float(x1) + g_rate * (0.5f - static_cast<float>(2.0 * p.lambda) * float(x1));
  const auto expect_b = float(xb) + g_rate * (2.0f - static_cast<float>(p.lambda) * float(xb));
  float* g = sums.sums();
  double g_b = 0.0;
  const auto rates = rates_of(p);
  stream_kernel::with_rank(8, [&](const auto& o) {
    g_b += 0.5;
    o.accumulate(g, 0.5, x.data());
    g_b += -0.25;
    o.accumulate(g, -0.25, x.data());
    CHECK(g_b == 0.25);
    CHECK(g[2] == 0.75f);
    sums.step(o, sa, g_b, g, rates);
    CHECK(g_b == 0.0);  // cleared for the next key
    CHECK(g[2] == 0.0f);
    g_b += 1.0;
    o.accumulate(g, 1.0, x.data());
    sums.step_to(o, sb, g_b, g, rates);
  });
  CHECK(sums.row(sa)[1] == expect);
  CHECK(sums.row(sb)[1] == store.row(b)[1]);  // step_to: the current row is as it was
  CHECK(store.row(a)[1] != expect);  // not written back yet
  sums.write_back(store);
  CHECK(store.row(a)[1] == expect);
  // A pass steps every slot one way; here slot b's new row waits in the second rows.
  sums.swap_rows();
  CHECK(sums.row(sb)[1] == expect_b);
}

TEST_CASE("owner states driven by hand reproduce the streaming trainer on a few batches",
          "[actors]") {
  const std::uint32_t n = 2;
  stream_params p;
  p.rank = 4;
  p.passes = 3;
  partition_state part(hash_partitioner{n}, hash_partitioner{n, 9});
  std::vector<user_owner_state> users;
  std::vector<item_owner_state> items;
  for (std::uint32_t s = 0; s < n; ++s) {
    users.emplace_back(s, n, p);
    items.emplace_back(s, n, p);
  }
  auto data = test::make_planted({.users = 30, .items = 20});
  streaming_trainer ref(p, data.table.scale);
  double mu = 0;
  std::uint64_t count = 0, offset = 0;
  std::span<const rating> all(data.table.ratings);
  for (std::uint64_t b = 0; b < 3; ++b) {
    auto span = all.subspan(offset, 60);
    REQUIRE(ref.apply(span, data.table.users, data.table.items));
    auto out = part.split(make_stamped(to_batch(span, data.table.users, data.table.items), b,
                                       offset, mu, count));
    offset += span.size();
    // User rows first (item owners buffer them until their slice arrives).
    std::vector<std::vector<user_rows>> rows;
    for (std::uint32_t s = 0; s < n; ++s)
      rows.push_back(users[s].begin(std::move(out.users[s])));
    for (;;) {
      for (std::uint32_t s = 0; s < n; ++s)
        for (std::uint32_t t = 0; t < n; ++t)
          items[t].take(std::move(rows[s][t]));
      for (std::uint32_t t = 0; t < n; ++t)
        if (!items[t].in_batch())
          items[t].begin(std::move(out.items[t]));
      std::vector<std::vector<item_rows>> answers;
      for (std::uint32_t t = 0; t < n; ++t) {
        REQUIRE(items[t].ready());
        answers.push_back(items[t].finish_pass());
      }
      bool done = false;
      for (std::uint32_t s = 0; s < n; ++s) {
        bool all_in = false;
        for (std::uint32_t t = 0; t < n; ++t)
          all_in = users[s].take(std::move(answers[t][s]));
        REQUIRE(all_in);
        rows[s] = users[s].finish_pass();
        done = rows[s].empty();
      }
      if (done) {
        for (std::uint32_t t = 0; t < n; ++t)
          for (std::uint32_t s = 0; s < n; ++s)
            CHECK(items[t].consumed(rows_consumed{b, s}) == (s + 1 == n));
        break;
      }
    }
    for (std::uint32_t s = 0; s < n; ++s) {
      CHECK_FALSE(users[s].in_batch());
      CHECK_FALSE(items[s].in_batch());
    }
  }
  std::vector<shard_parts> up, ip;
  for (std::uint32_t s = 0; s < n; ++s) {
    up.push_back(users[s].export_parts());
    ip.push_back(items[s].export_parts());
  }
  auto model = assemble_model(p.rank, data.table.scale, mu, count, up, ip);
  REQUIRE(model);
  CHECK(*model == ref.model());
}

TEST_CASE("owner states: rows read in place stay readable after their sender is stopped",
          "[actors]") {
  // A recovery stops owners in any order: an item owner may still join the rows a user
  // owner of its process sent it in place after that owner is gone (the sanitizer build
  // sees a use after free if the rows do not keep the sender's buffer).
  stream_params p;
  p.rank = 4;
  p.passes = 2;
  partition_state part(hash_partitioner{1}, hash_partitioner{1, 9});
  auto data = test::make_planted({.users = 30, .items = 20});
  std::span<const rating> all(data.table.ratings);
  auto span = all.subspan(0, 60);
  auto run = [&](bool stop_sender) {
    std::optional<user_owner_state> user(std::in_place, 0, 1, p);
    item_owner_state item(0, 1, p);
    double mu = 0;
    std::uint64_t count = 0;
    auto out = part.split(make_stamped(to_batch(span, data.table.users, data.table.items), 0, 0,
                                       mu, count));
    auto rows = user->begin(std::move(out.users[0]));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].keep != nullptr);
    if (stop_sender)
      user.reset();
    item.take(std::move(rows[0]));
    item.begin(std::move(out.items[0]));
    REQUIRE(item.ready());
    return item.finish_pass().at(0).errors;
  };
  auto kept = run(false);
  auto stopped = run(true);
  REQUIRE(kept.size() == span.size());
  CHECK(stopped == kept);
}

TEST_CASE("messages: registered types travel between actors of a local system", "[actors]") {
  caf::actor_system_config cfg;
  add_graph_message_types(cfg);
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto echo = sys.spawn([]() -> caf::behavior {
    return {[](user_rows& r) { return r; }};
  });
  caf::scoped_actor self{sys};
  std::vector<float> row{1.0f, 2.0f};
  user_rows sent{7, 1, 0, {0, 0}, nullptr, row.data()};
  self->request(echo, std::chrono::seconds(5), sent)
    .receive([&](user_rows& got) {
               CHECK(got.local == sent.local);
               CHECK(got.factors == row.data());  // shared locally, not copied
             },
             [&](caf::error& e) { FAIL(caf::to_string(e)); });
  self->send_exit(echo, caf::exit_reason::user_shutdown);
}

TEST_CASE("shard store: small, large and negative ids each get one key and seeded factors",
          "[actors]") {
  shard_store store(side::item, 8, 42, 0.1);
  std::vector<std::int64_t> ids{5, std::int64_t(1) << 40, -3, 5, 70'000'000, -3};
  std::vector<std::uint32_t> keys;
  for (std::size_t k = 0; k < ids.size(); ++k)
    keys.push_back(store.touch(ids[k], k));
  CHECK(keys == std::vector<std::uint32_t>{0, 1, 2, 0, 3, 2});
  CHECK(store.size() == 4);
  factor_model ref(8, {});
  for (std::uint32_t k = 0; k < store.size(); ++k) {
    CHECK(store.id(k) == ids[k == 3 ? 4 : k]);
    auto i = ref.add_item(store.id(k), 42, 0.1);
    for (int d = 0; d < 8; ++d)
      CHECK(store.row(k)[d] == ref.P().row(i)[d]);
  }
  auto parts = store.export_parts(0, 0);
  CHECK(parts.first_seen == std::vector<std::uint64_t>{0, 1, 2, 4});
}
