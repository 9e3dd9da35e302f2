// Streaming implicit ALS with its owners on `recflow node` processes on 127.0.0.1: the
// model equals the reference trainer's bit for bit (from empty and from a batch model),
// a lost node ends the job naming it and the batch, and an owner refuses hostile frames
// and specs, naming who sent them.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/implicit_cluster_owner.hpp"
#include "recflow/engine/implicit_cluster.hpp"
#include "recflow/graph/implicit_wire.hpp"
#include "recflow/model/implicit_als.hpp"
#include "node_client.hpp"
#include "node_process.hpp"
#include "support/implicit_stream_feed.hpp"
#include "support/planted_groups.hpp"

using namespace recflow;
using recflow::test::feed;
using recflow::test::start_nodes;

namespace {

std::vector<stamped_event> random_stream(std::size_t n) { return test::random_stream(n, 11, 90, 60); }

implicit_cluster_options on(const test::node_group& nodes, std::size_t partitions) {
  return {.nodes = test::endpoints<node_endpoint>(nodes), .secret = test::node_secret(),
          .graph = {.partitions = partitions}};
}

}  // namespace

TEST_CASE("implicit stream across 3 nodes on 127.0.0.1 gives the reference's model bit for bit",
          "[engine][multinode][implicit][equivalence]") {
  auto nodes = start_nodes(3);
  const auto events = random_stream(1800);
  implicit_stream_params p;
  p.als.rank = 8;
  p.refresh_every = 4;
  p.passes = 2;
  p.als.solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  auto ref = implicit_stream_trainer::make(p).value();
  feed(ref, events, 300);
  for (std::size_t parts : {2, 4}) {
    auto c = implicit_cluster::make(p, on(nodes, parts));
    INFO((c ? std::string() : c.err().message));
    REQUIRE(c);
    feed(**c, events, 300);
    CHECK((*c)->batches() == 6);
    auto m = (*c)->snapshot();
    REQUIRE(m);
    CHECK(*m == ref.model());
  }
  auto text = explain_implicit_cluster(on(nodes, 4));
  CHECK_THAT(text, Catch::Contains("node " + nodes[0]->address() + ": user shards 0 3, item shards 2"));
  CHECK_THAT(text, Catch::Contains("driver: events, partition"));
  for (auto& n : nodes) {
    INFO(n->log());
    CHECK(n->running());
    CHECK_THAT(n->log(), Catch::Contains("(streaming implicit ALS)"));
  }
}

TEST_CASE("implicit stream across nodes: seeded from batch implicit ALS, equal to the seeded reference",
          "[engine][multinode][implicit][equivalence]") {
  auto nodes = start_nodes(2);
  const auto d = test::make_planted_groups();
  implicit_params batch_p;
  batch_p.rank = 4;
  batch_p.iterations = 5;
  const auto seed = train_implicit_als(d.table, batch_p).value();
  implicit_stream_params p;
  p.als = batch_p;
  auto ref = implicit_stream_trainer::make(p, &seed).value();
  auto c = implicit_cluster::make(p, on(nodes, 3), &seed).value();
  CHECK(c->snapshot().value() == ref.model());
  std::vector<stamped_event> more;
  for (int u = 0; u < 60; u += 7)
    more.push_back({u, 1000 + (u * 3) % 30, 2.0f, 0});
  feed(ref, more, 5);
  feed(*c, more, 5);
  CHECK(c->snapshot().value() == ref.model());
  p.als.rank = 5;
  CHECK_FALSE(implicit_cluster::make(p, on(nodes, 2), &seed));
}

TEST_CASE("implicit stream across nodes: a killed node ends the job naming it and the batch",
          "[engine][multinode][implicit]") {
  auto nodes = start_nodes(2);
  implicit_stream_params p;
  p.als.rank = 4;
  auto c = implicit_cluster::make(p, on(nodes, 2)).value();
  const auto events = random_stream(400);
  feed(*c, events, 200);
  nodes[1]->kill_hard();
  auto batch = random_stream(100);
  auto r = c->apply(batch);
  REQUIRE_FALSE(r);
  INFO(r.err().message);
  CHECK_THAT(r.err().message, Catch::StartsWith("lost node " + nodes[1]->address() + " at batch 3"));
  CHECK_FALSE(c->apply(batch));  // every later batch fails too
  CHECK_FALSE(c->snapshot());
  CHECK(nodes[0]->running());
}

TEST_CASE("node: an implicit owner refuses hostile specs and frames and says who sent them",
          "[engine][multinode][implicit]") {
  auto nodes = start_nodes(1);
  test::node_client client(nodes[0]->port());
  auto& sys = client.sys;
  caf::scoped_actor self{sys};
  auto me = caf::actor_cast<caf::actor>(self);
  implicit_stream_params p;
  p.als.rank = 4;
  auto spawn = [&](implicit_owner_spec spec) {
    caf::actor owner;
    std::string why;
    self->request(client.node, std::chrono::seconds(10), std::move(spec))
      .receive([&](caf::actor& a, std::string& w) { owner = a; why = w; },
               [&](caf::error& e) { why = sys.render(e); });
    return std::pair{owner, why};
  };
  auto bad = p;
  bad.passes = 0;
  CHECK_THAT(spawn({bad, side::user, 0, me, {}}).second, Catch::Contains("passes must be positive"));
  CHECK_THAT(spawn({p, side(7), 0, me, {}}).second, Catch::Contains("neither users"));
  implicit_shard items(side::item, p);
  CHECK_THAT(spawn({p, side::user, 0, me, wire_frame{wire::encode_implicit_shard(items.parts())}})
               .second,
             Catch::Contains("the seed is the item side's shard"));
  CHECK_THAT(spawn({p, side::user, 0, me, wire_frame{std::vector<char>(40, 'x')}}).second,
             Catch::Contains("bad magic"));

  auto expect_rejected = [&](auto send, const std::string& what) {
    auto [owner, w] = spawn({p, side::user, 0, me, {}});  // fresh: a rejection ends its job
    REQUIRE(owner);
    send(owner);
    std::string got;
    self->receive([&](frame_rejected& r) { got = r.message; },
                  caf::after(std::chrono::seconds(10)) >> [] {});
    INFO(got);
    CHECK_THAT(got, Catch::StartsWith("user owner 0 rejected a frame from node "));
    CHECK_THAT(got, Catch::Contains(what));
  };
  auto events = random_stream(10);
  expect_rejected([&](const caf::actor& a) {
    self->send(a, implicit_events_atom::value, wire_frame{std::vector<char>(3, 'x')});
  }, "truncated header");
  expect_rejected([&](const caf::actor& a) {
    self->send(a, implicit_events_atom::value, wire_frame{wire::encode_implicit_events(2, events)});
  }, "the events of batch 2 after batch 0");
  expect_rejected([&](const caf::actor& a) {
    self->send(a, implicit_remote_solve{0, 0, std::vector<std::uint64_t>(3, 0)});
  }, "a Gram matrix of 3 words for rank 4");
  expect_rejected([&](const caf::actor& a) {
    const wire::implicit_step step{5, 0, side::user};
    self->send(a, implicit_fetch_atom::value,
               wire_frame{wire::encode_implicit_ids(step, std::vector<std::int64_t>{1})});
  }, "a request for user rows of batch 5 at batch 0");
  // A peer that answers rows nobody asked for.
  auto [owner, w] = spawn({p, side::user, 0, me, {}});
  REQUIRE(owner);
  auto fake_peer = sys.spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](implicit_fetch_atom, const wire_frame& f) {
      auto asked = wire::decode_implicit_ids(f.bytes).value();
      implicit_rows rows{{-1}, factor_table(4)};  // an id not asked for
      rows.rows.resize(1);
      return wire_frame{wire::encode_implicit_rows(asked.step, rows)};
    }};
  });
  self->send(owner, peer_list{{fake_peer}});
  self->send(owner, implicit_events_atom::value, wire_frame{wire::encode_implicit_events(1, events)});
  implicit_shard empty_items(side::item, p);
  std::string got;
  self->receive([&](implicit_owner_done& d) { CHECK(d.batch == 1); },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("no report"); });
  self->send(owner, implicit_remote_solve{1, 0, empty_items.gram().words()});
  self->receive([&](frame_rejected& r) { got = r.message; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  CHECK_THAT(got, Catch::Contains("answered 1 rows for"));
  self->send_exit(fake_peer, caf::exit_reason::user_shutdown);
  CHECK(nodes[0]->running());
}
