// Batch ALS across processes: 3 `recflow node` processes on 127.0.0.1 (always stopped)
// holding the user and item blocks, against train_als; a node killed or frozen
// mid-training; hostile ALS frames and layouts sent to a node's blocks.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/engine/cluster_als.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/implicit_als.hpp"
#include "engine_test_util.hpp"
#include "node_client.hpp"
#include "node_process.hpp"
#include "test_util.hpp"

using namespace recflow;
using recflow::test::node_process;
using recflow::test::start_nodes;

namespace {

const rating_table& u1_base() {
  static const rating_table t = read_ratings(test::data_dir() + "/ml-100k/u1.base").value();
  return t;
}

}  // namespace

TEST_CASE("ALS across 3 nodes on 127.0.0.1 trains train_als's model", "[engine][multinode][als]") {
  auto parts = GENERATE(std::size_t{2}, std::size_t{4});
  auto nodes = start_nodes(3);
  als_params p{.rank = 10, .iterations = 4};
  auto expected = train_als(u1_base(), p).value();
  als_cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret(), .graph = {.partitions = parts}};
  std::vector<als_sweep_metrics> sweeps;
  auto got = train_als_cluster(u1_base(), p, o,
                               [&](const als_sweep_metrics& m) { sweeps.push_back(m); });
  INFO((got ? std::string() : got.err().message));
  REQUIRE(got);
  test::require_equivalent(*got, expected, true);
  REQUIRE(sweeps.size() == 4);
  // Rows crossed the wire as frames (88 bytes a row at rank 10, 37 a frame), except
  // between blocks on the same node.
  CHECK(sweeps[0].wire_bytes > 0);
  CHECK(sweeps[0].wire_bytes
        < (sweeps[0].item_rows_shipped + sweeps[0].user_rows_shipped) * 88 + sweeps[0].messages * 37);
  CHECK(sweeps[3].train_rmse < sweeps[0].train_rmse);
  auto text = explain_als_cluster(o);
  CHECK_THAT(text, Catch::Contains("node " + nodes[0]->address() + ": user blocks 0"));
  // The driver is gone: every node stops the job's blocks and keeps serving.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto& n : nodes) {
    INFO(n->log());
    CHECK(n->running());
    CHECK_THAT(n->log(), Catch::Contains("(batch ALS)"));
    CHECK_THAT(n->log(), Catch::Contains("ended"));
  }
}

TEST_CASE("implicit ALS across 3 nodes on 127.0.0.1 trains train_implicit_als's model",
          "[engine][multinode][implicit][als]") {
  auto nodes = start_nodes(3);
  implicit_params p;
  p.rank = 8;
  p.iterations = 3;
  p.solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  auto expected = train_implicit_als(u1_base(), p).value();
  als_cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes),
                        .secret = recflow::test::node_secret(), .graph = {.partitions = 4}};
  std::vector<als_sweep_metrics> sweeps;
  auto got = train_implicit_als_cluster(u1_base(), p, o,
                                        [&](const als_sweep_metrics& m) { sweeps.push_back(m); });
  INFO((got ? std::string() : got.err().message));
  REQUIRE(got);
  CHECK(*got == expected);
  REQUIRE(sweeps.size() == 3);
  // Every block hears from all 4 of the other side, with a Gram matrix of 72 words.
  CHECK(sweeps[0].messages == 2 * 4 * 4);
  CHECK(sweeps[0].wire_bytes > 4 * 4 * 72 * 8);
  CHECK(sweeps[2].objective < sweeps[0].objective);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto& n : nodes) {
    INFO(n->log());
    CHECK(n->running());
    CHECK_THAT(n->log(), Catch::Contains("(batch implicit ALS)"));
  }
}

TEST_CASE("ALS across nodes: a node killed mid-training stops the job with the node and sweep",
          "[engine][multinode][als]") {
  auto nodes = start_nodes(3);
  als_params p{.rank = 10, .iterations = 8};
  als_cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret(), .graph = {.partitions = 3}};
  auto t0 = std::chrono::steady_clock::now();
  auto got = train_als_cluster(u1_base(), p, o, [&](const als_sweep_metrics& m) {
    if (m.iteration == 2)
      nodes[1]->kill_hard();
  });
  REQUIRE_FALSE(got);
  INFO(got.err().message);
  CHECK_THAT(got.err().message, Catch::StartsWith("lost node " + nodes[1]->address() + " at sweep 3 ("));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  CHECK(nodes[0]->running());
  CHECK(nodes[2]->running());
}

TEST_CASE("ALS across nodes: a node that stops answering ends the job after the stall timeout",
          "[engine][multinode][als]") {
  auto nodes = start_nodes(2);
  als_params p{.rank = 10, .iterations = 6};
  als_cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret(), .graph = {.partitions = 2}};
  o.graph.stall_timeout = std::chrono::milliseconds(1500);
  auto got = train_als_cluster(u1_base(), p, o, [&](const als_sweep_metrics& m) {
    if (m.iteration == 1)
      nodes[0]->freeze();
  });
  REQUIRE_FALSE(got);
  CHECK_THAT(got.err().message,
             Catch::Equals("lost node " + nodes[0]->address() + " at sweep 2 (no reply for 1500 ms)"));
  nodes[0]->kill_hard();
}

TEST_CASE("node: an ALS block rejects hostile frames and layouts and says who sent them",
          "[engine][multinode][als]") {
  auto nodes = start_nodes(1);
  test::node_client client(nodes[0]->port());
  auto& sys = client.sys;
  auto& node = client.node;
  caf::scoped_actor self{sys};
  auto me = caf::actor_cast<caf::actor>(self);

  auto train = test::make_planted({.users = 40, .items = 30, .rank = 3, .density = 0.3}).table;
  als_params p{.rank = 4, .iterations = 2};
  auto setup = prepare_als_graph(train, p, {.partitions = 2}).value();
  const auto& layout = setup.plan->users[0];
  auto spawn = [&](wire::bytes blob, als_params params) {
    caf::actor block;
    std::string why;
    self->request(node, std::chrono::seconds(10), als_block_spec{params, wire_frame{std::move(blob)}, me})
      .receive([&](caf::actor& a, std::string& w) { block = a; why = w; },
               [&](caf::error& e) { why = sys.render(e); });
    return std::pair{block, why};
  };
  // Refused specs are answers, not crashes.
  auto blob = wire::encode_als_layout(layout, *setup.initial);
  auto cut = blob;
  cut.resize(cut.size() / 2);
  auto [none, why] = spawn(cut, p);
  CHECK_FALSE(none);
  CHECK_THAT(why, Catch::Contains("malformed ALS block layout frame"));
  auto wrong_rank = p;
  wrong_rank.rank = 5;
  CHECK_THAT(spawn(blob, wrong_rank).second, Catch::Contains("rows have rank 4"));

  auto n = layout.in_offsets[1] - layout.in_offsets[0];
  REQUIRE(n > 0);
  als_rows good{.iteration = 1, .side = side::item, .from = 0, .to = 0,
                .bias = std::vector<double>(n, 0.0), .factors = std::vector<float>(n * 4, 0.0f)};
  auto expect_rejected = [&](auto message, const std::string& what) {
    auto [block, w] = spawn(blob, p);  // a fresh block: a rejected frame ends a block's job
    REQUIRE(block);
    self->send(block, std::move(message));
    std::string got;
    self->receive([&](frame_rejected& r) { got = r.message; },
                  caf::after(std::chrono::seconds(10)) >> [] {});
    INFO(got);
    CHECK_THAT(got, Catch::StartsWith("user block 0 rejected a frame from node "));
    CHECK_THAT(got, Catch::Contains(what));
  };
  auto expect_rejection = [&](std::vector<char> bytes, const std::string& what) {
    expect_rejected(wire_frame{std::move(bytes)}, what);
  };
  expect_rejection(std::vector<char>(3, 'x'), "truncated header");
  expect_rejection(std::vector<char>(64, 'x'), "bad magic");
  auto truncated = wire::encode_als_rows(good, 4);
  truncated.pop_back();
  expect_rejection(truncated, "follow");
  auto wrong = good;
  wrong.to = 1;
  expect_rejection(wire::encode_als_rows(wrong, 4), "addressed to block 1");
  wrong = good;
  wrong.bias.push_back(0.0);
  wrong.factors.resize(wrong.factors.size() + 4);
  expect_rejection(wire::encode_als_rows(wrong, 4), "expected " + std::to_string(n));
  wrong = good;
  wrong.iteration = 5;
  expect_rejection(wire::encode_als_rows(wrong, 4), "rows for sweep 5");
  expect_rejection(wire::encode_user_slice(batch_stamp{}, {}), "kind 2, expected 7");
  // Rows as a CAF message (how blocks in one process talk) are checked as well.
  wrong = good;
  wrong.from = 9;
  expect_rejected(wrong, "from block 9, out of range");
  CHECK(nodes[0]->running());
}
