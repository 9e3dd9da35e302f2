// Owner states across processes: rows shipped as wire frames (ship / unship) give the
// streaming trainer's model exactly, and frames that do not fit the current pass are
// rejected with an error instead of being read.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/partition.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/engine/snapshot.hpp"
#include "recflow/model/streaming.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

struct owners {
  std::uint32_t n;
  stream_params p;
  std::vector<user_owner_state> users;
  std::vector<item_owner_state> items;
  owners(std::uint32_t shards, const stream_params& params) : n(shards), p(params) {
    for (std::uint32_t s = 0; s < n; ++s) {
      users.emplace_back(s, n, p);
      items.emplace_back(s, n, p);
    }
  }
};

}  // namespace

TEST_CASE("owner states shipping rows as wire frames reproduce the streaming trainer",
          "[actors][wire]") {
  stream_params p;
  p.rank = GENERATE(4, 10);
  p.passes = 3;
  owners o(3, p);
  partition_state part(hash_partitioner{3}, hash_partitioner{3, 9});
  auto data = test::make_planted({.users = 40, .items = 25});
  streaming_trainer ref(p, data.table.scale);
  double mu = 0;
  std::uint64_t count = 0, offset = 0;
  std::span<const rating> all(data.table.ratings);
  REQUIRE(all.size() >= 4 * 60);
  for (std::uint64_t b = 0; b < 4; ++b) {
    auto span = all.subspan(offset, 60);
    REQUIRE(ref.apply(span, data.table.users, data.table.items));
    auto batch = to_batch(span, data.table.users, data.table.items);
    mu = fold_mean(mu, count, batch);
    auto out = part.split({{b, offset, mu, count, false}, batch});
    offset += span.size();
    std::vector<std::vector<wire::bytes>> frames;
    for (std::uint32_t s = 0; s < o.n; ++s)
      frames.push_back(o.users[s].ship(o.users[s].begin(std::move(out.users[s]))));
    for (std::uint32_t t = 0; t < o.n; ++t)
      o.items[t].begin(std::move(out.items[t]));
    for (;;) {
      for (std::uint32_t s = 0; s < o.n; ++s)
        for (std::uint32_t t = 0; t < o.n; ++t) {
          auto r = o.items[t].unship(frames[s][t]);
          INFO((r ? std::string() : r.err().message));
          REQUIRE(r);
          o.items[t].take(std::move(*r));
        }
      std::vector<std::vector<wire::bytes>> answers;
      for (std::uint32_t t = 0; t < o.n; ++t) {
        REQUIRE(o.items[t].ready());
        REQUIRE(o.items[t].check_pass());
        answers.push_back(o.items[t].ship(o.items[t].finish_pass()));
      }
      bool done = false;
      for (std::uint32_t s = 0; s < o.n; ++s) {
        bool all_in = false;
        for (std::uint32_t t = 0; t < o.n; ++t) {
          auto a = o.users[s].unship(answers[t][s]);
          INFO((a ? std::string() : a.err().message));
          REQUIRE(a);
          all_in = o.users[s].take(std::move(*a));
        }
        REQUIRE(all_in);
        auto next = o.users[s].finish_pass();
        done = next.empty();
        frames[s] = o.users[s].ship(next);
      }
      if (done) {
        for (std::uint32_t t = 0; t < o.n; ++t)
          for (std::uint32_t s = 0; s < o.n; ++s)
            o.items[t].consumed(rows_consumed{b, s});
        break;
      }
    }
  }
  std::vector<shard_parts> up, ip;
  for (std::uint32_t s = 0; s < o.n; ++s) {
    up.push_back(o.users[s].export_parts());
    ip.push_back(o.items[s].export_parts());
    CHECK(o.users[s].sent().bytes > 0);
  }
  auto model = assemble_model(p.rank, data.table.scale, mu, count, up, ip);
  REQUIRE(model);
  CHECK(*model == ref.model());
}

TEST_CASE("owner states reject frames that do not fit the current pass", "[actors][wire]") {
  stream_params p;
  p.rank = 4;
  p.passes = 2;
  owners o(2, p);
  partition_state part(hash_partitioner{2}, hash_partitioner{2, 9});
  auto data = test::make_planted({.users = 20, .items = 10});
  std::span<const rating> all(data.table.ratings);
  auto batch = to_batch(all.subspan(0, 40), data.table.users, data.table.items);
  double mu = 0;
  std::uint64_t count = 0;
  mu = fold_mean(mu, count, batch);
  auto out = part.split({{0, 0, mu, count, false}, batch});
  auto rows0 = o.users[0].ship(o.users[0].begin(std::move(out.users[0])));
  auto rows1 = o.users[1].ship(o.users[1].begin(std::move(out.users[1])));
  o.items[0].begin(out.items[0]);  // a copy: the sections read the routes

  SECTION("garbage, another kind, another rank") {
    std::vector<char> junk(100, 'x');
    CHECK_FALSE(o.items[0].unship(junk));
    CHECK_FALSE(o.users[0].unship(rows0[0]));  // user rows are not an item owner's answer
    stream_params other = p;
    other.rank = 5;
    owners wrong(2, other);
    auto w = wrong.users[0].ship(wrong.users[0].begin(part.split({{0, 0, mu, count, false}, batch}).users[0]));
    auto e = o.items[0].unship(w[0]);
    REQUIRE_FALSE(e);
    CHECK_THAT(e.err().message, Catch::Contains("rank 5, this job has rank 4"));
  }
  SECTION("a second copy of one user shard's rows for the same pass") {
    auto r = o.items[0].unship(rows0[0]);
    REQUIRE(r);
    o.items[0].take(std::move(*r));
    auto again = o.items[0].unship(rows0[0]);
    REQUIRE_FALSE(again);
    CHECK_THAT(again.err().message, Catch::Contains("a second copy"));
  }
  SECTION("rows whose block does not match the item owner's are caught before use") {
    // User shard 1's rows claimed as shard 0's: the row indices do not fit shard 0's block
    // (unless the two blocks happen to be the same size).
    auto forged = rows1[0];
    std::uint32_t zero = 0;
    std::memcpy(forged.data() + wire::header_bytes + 12, &zero, 4);  // `from` := 0
    auto a = o.items[0].unship(forged);
    REQUIRE(a);
    o.items[0].take(std::move(*a));
    auto b = o.items[0].unship(rows1[0]);
    REQUIRE(b);
    o.items[0].take(std::move(*b));
    REQUIRE(o.items[0].ready());
    // The forgery passes the arrival checks; its row indices do not fit block (0, 0).
    const auto& routes = out.items[0].routes;
    auto from = [&](std::uint32_t s) {
      return std::count_if(routes.begin(), routes.end(), [&](const item_route& r) { return r.user_shard == s; });
    };
    auto ok = o.items[0].check_pass();
    if (from(0) != from(1)) {
      REQUIRE_FALSE(ok);
      CHECK_THAT(ok.err().message, Catch::Contains("rejected by item shard 0"));
    }
  }
  SECTION("a second answer from one item owner for the same pass") {
    auto r0 = o.items[0].unship(rows0[0]);
    auto r1 = o.items[0].unship(rows1[0]);
    REQUIRE(r0);
    REQUIRE(r1);
    o.items[0].take(std::move(*r0));
    o.items[0].take(std::move(*r1));
    REQUIRE(o.items[0].check_pass());
    auto answers = o.items[0].ship(o.items[0].finish_pass());
    REQUIRE(o.users[0].unship(answers[0]));
    auto a = o.users[0].unship(answers[0]).value();
    o.users[0].take(std::move(a));
    auto dup = o.users[0].unship(answers[0]);
    REQUIRE_FALSE(dup);
    CHECK_THAT(dup.err().message, Catch::Contains("a second answer"));
  }
}
