// Streaming implicit ALS's pieces for other processes: a shard solved from gathered rows
// equals the shard solved in place, a shard's parts rebuild it, and the wire frames round
// trip and refuse what is malformed or hostile.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <vector>

#include "recflow/graph/implicit_wire.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/random.hpp"

using namespace recflow;

namespace {

std::vector<stamped_event> some_events(std::size_t n, std::uint64_t seed, std::uint64_t first) {
  std::vector<stamped_event> out;
  splitmix64 rng(seed);
  for (std::size_t j = 0; j < n; ++j)
    out.push_back({std::int64_t(10 + rng.below(40)), std::int64_t(500 + 2 * rng.below(30)),
                   float(1 + rng.below(3)), first + j + 1});
  return out;
}

/// Two pairs of shards fed the same batches; the second pair solves from gathered rows.
struct twin_shards {
  implicit_stream_params p;
  implicit_shard users, items, users2, items2;

  explicit twin_shards(const implicit_stream_params& params)
    : p(params), users(side::user, p), items(side::item, p), users2(side::user, p),
      items2(side::item, p) {}

  static Eigen::MatrixXd gram_of(const implicit_shard& s) { return s.gram().to_matrix(); }

  void batch(const std::vector<stamped_event>& events, std::uint64_t b) {
    for (auto* s : {&users, &items, &users2, &items2})
      s->add_events(events, b);
    const implicit_shard* u = &users;
    const implicit_shard* i = &items;
    users.solve(implicit_side_view{{i}, [](std::int64_t) { return 0u; }}, gram_of(items));
    items.solve(implicit_side_view{{u}, [](std::int64_t) { return 0u; }}, gram_of(users));
    users2.solve(items2.rows_of(users2.needed()), gram_of(items2));
    items2.solve(users2.rows_of(items2.needed()), gram_of(users2));
  }
};

}  // namespace

TEST_CASE("implicit shard: a solve from gathered rows equals the solve in place",
          "[implicit][wire][equivalence]") {
  implicit_stream_params p;
  p.als.rank = 6;
  p.refresh_every = 3;
  p.als.solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  twin_shards t(p);
  std::uint64_t stamp = 0;
  for (std::uint64_t b = 1; b <= 6; ++b) {
    auto events = some_events(120, b, stamp);
    stamp += events.size();
    t.batch(events, b);
    CHECK(t.users.rows() == t.users2.rows());
    CHECK(t.items.rows() == t.items2.rows());
    CHECK(t.users.gram() == t.users2.gram());
  }
  // needed(): the other side's ids of the touched keys' events, strictly increasing.
  const auto ids = t.users.needed();
  REQUIRE_FALSE(ids.empty());
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  // rows_of() skips ids the shard does not hold.
  std::vector<std::int64_t> asked{1, 10, 11, 12, 99999};
  auto rows = t.users.rows_of(asked);
  for (auto id : rows.ids)
    CHECK(t.users.ids().contains(id));
  CHECK(rows.rows.rows() == rows.ids.size());
}

TEST_CASE("implicit shard: its parts rebuild it, and broken parts are refused",
          "[implicit][wire]") {
  implicit_stream_params p;
  p.als.rank = 4;
  implicit_shard s(side::item, p);
  s.add_events(some_events(200, 3, 0), 1);
  implicit_shard other(side::user, p);
  other.add_events(some_events(200, 3, 0), 1);
  s.solve(other.rows_of(s.needed()), other.gram().to_matrix());
  auto back = implicit_shard::from_parts(s.parts(), p);
  REQUIRE(back);
  CHECK(back->ids().externals() == s.ids().externals());
  CHECK(back->rows() == s.rows());
  CHECK(back->gram() == s.gram());
  for (index_t k = 0; k < s.ids().size(); ++k) {
    REQUIRE(back->events_of(k).size() == s.events_of(k).size());
    for (std::size_t j = 0; j < s.events_of(k).size(); ++j) {
      CHECK(back->events_of(k)[j].other == s.events_of(k)[j].other);
      CHECK(back->events_of(k)[j].weight == s.events_of(k)[j].weight);
      CHECK(back->events_of(k)[j].stamp == s.events_of(k)[j].stamp);
    }
  }
  auto refused = [&](auto change, const char* what) {
    auto parts = s.parts();
    change(parts);
    auto r = implicit_shard::from_parts(std::move(parts), p);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.err().message, Catch::Contains(what));
  };
  refused([](implicit_shard_parts& x) { x.ids[1] = x.ids[0]; }, "appears twice");
  refused([](implicit_shard_parts& x) { x.offsets.pop_back(); }, "offsets do not fit");
  refused([](implicit_shard_parts& x) { x.offsets[1] = x.events.size() + 5; }, "decrease");
  refused([](implicit_shard_parts& x) { x.events[0].weight = -1.0f; }, "weight");
  refused([](implicit_shard_parts& x) { std::swap(x.events[0], x.events[1]); },
          "not strictly increasing");
  refused([](implicit_shard_parts& x) { x.rows.data()[2] = std::numeric_limits<float>::quiet_NaN(); },
          "not finite");
  implicit_stream_params rank5 = p;
  rank5.als.rank = 5;
  CHECK_FALSE(implicit_shard::from_parts(s.parts(), rank5));
}

TEST_CASE("implicit wire: frames round trip", "[implicit][wire]") {
  auto events = some_events(50, 9, 100);
  auto e = wire::decode_implicit_events(wire::encode_implicit_events(7, events));
  REQUIRE(e);
  CHECK(e->batch == 7);
  REQUIRE(e->events.size() == events.size());
  for (std::size_t j = 0; j < events.size(); ++j) {
    CHECK(e->events[j].user == events[j].user);
    CHECK(e->events[j].item == events[j].item);
    CHECK(e->events[j].weight == events[j].weight);
    CHECK(e->events[j].stamp == events[j].stamp);
  }
  const wire::implicit_step step{3, 1, side::item};
  std::vector<std::int64_t> ids{-5, 2, 40};
  auto i = wire::decode_implicit_ids(wire::encode_implicit_ids(step, ids));
  REQUIRE(i);
  CHECK(i->step == step);
  CHECK(i->ids == ids);
  implicit_rows rows{ids, factor_table(3)};
  rows.rows.resize(3);
  for (std::size_t k = 0; k < 9; ++k)
    rows.rows.data()[k] = float(k) / 4.0f;
  auto r = wire::decode_implicit_rows(wire::encode_implicit_rows(step, rows));
  REQUIRE(r);
  CHECK(r->step == step);
  CHECK(r->rows.ids == ids);
  CHECK(r->rows.rows == rows.rows);
  implicit_stream_params p;
  p.als.rank = 3;
  implicit_shard s(side::user, p);
  s.add_events(events, 1);
  auto sh = wire::decode_implicit_shard(wire::encode_implicit_shard(s.parts()));
  REQUIRE(sh);
  auto back = implicit_shard::from_parts(std::move(*sh), p);
  REQUIRE(back);
  CHECK(back->rows() == s.rows());
  // An empty shard travels too.
  implicit_shard none(side::item, p);
  CHECK(wire::decode_implicit_shard(wire::encode_implicit_shard(none.parts())));
}

TEST_CASE("implicit wire: malformed and hostile frames are refused, never read past",
          "[implicit][wire]") {
  auto refused = [](auto decoded, const char* what) {
    REQUIRE_FALSE(decoded);
    CHECK(decoded.err().code == errc::corrupt);
    CHECK_THAT(decoded.err().message, Catch::Contains(what));
  };
  auto events = some_events(4, 1, 0);
  auto blob = wire::encode_implicit_events(1, events);
  auto cut = blob;
  cut.pop_back();
  refused(wire::decode_implicit_events(cut), "follow");
  refused(wire::decode_implicit_events(std::vector<char>(5, 'x')), "truncated header");
  refused(wire::decode_implicit_ids(blob), "kind 8, expected 9");
  events[2].weight = 0.0f;
  refused(wire::decode_implicit_events(wire::encode_implicit_events(1, events)),
          "event 3 has weight");
  // A count that claims more than the frame holds.
  auto lying = blob;
  const std::uint32_t huge = 0xffffffffu;
  std::memcpy(lying.data() + wire::header_bytes + 8, &huge, 4);
  refused(wire::decode_implicit_events(lying), "follow");

  const wire::implicit_step step{1, 0, side::user};
  std::vector<std::int64_t> unsorted{3, 2};
  refused(wire::decode_implicit_ids(wire::encode_implicit_ids(step, unsorted)),
          "not strictly increasing");
  auto bad_side = wire::encode_implicit_ids(step, std::vector<std::int64_t>{1});
  bad_side[wire::header_bytes + 12] = 7;
  refused(wire::decode_implicit_ids(bad_side), "neither users nor items");

  implicit_rows rows{{1, 2}, factor_table(2)};
  rows.rows.resize(2);
  rows.rows.data()[3] = std::numeric_limits<float>::infinity();
  refused(wire::decode_implicit_rows(wire::encode_implicit_rows(step, rows)), "not finite");
  implicit_rows big{{}, factor_table(int(wire::max_rank) + 1)};
  refused(wire::decode_implicit_rows(wire::encode_implicit_rows(step, big)), "rank 4097");

  implicit_stream_params p;
  p.als.rank = 2;
  implicit_shard s(side::user, p);
  s.add_events(some_events(10, 2, 0), 1);
  auto shard = wire::encode_implicit_shard(s.parts());
  auto short_shard = shard;
  short_shard.resize(short_shard.size() - 3);
  refused(wire::decode_implicit_shard(short_shard), "follow");
  auto more_events = shard;  // m (after side, rank and n) claims one event more
  std::uint64_t m = 0;
  std::memcpy(&m, more_events.data() + wire::header_bytes + 9, 8);
  ++m;
  std::memcpy(more_events.data() + wire::header_bytes + 9, &m, 8);
  refused(wire::decode_implicit_shard(more_events), "do not fill");
  m = std::numeric_limits<std::uint64_t>::max();
  std::memcpy(more_events.data() + wire::header_bytes + 9, &m, 8);
  refused(wire::decode_implicit_shard(more_events), "do not fill");
}
