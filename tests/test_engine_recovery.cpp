// Recovery from a lost node: 3 `recflow node` processes on 127.0.0.1 (always stopped), one
// killed with SIGKILL at a chosen batch; the job restores the checkpoint onto the
// survivors, replays, and ends with the failure-free model, every rating applied once.
#include <catch2/catch.hpp>

#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/local_engine.hpp"
#include "engine_test_util.hpp"
#include "node_process.hpp"
#include "test_util.hpp"

using namespace recflow;
using recflow::test::node_process;
using recflow::test::start_nodes;
using recflow::test::replay;
using recflow::test::require_equivalent;

namespace {

streaming_graph graph_of(const std::vector<rating_batch>& batches) {
  stream_params p;
  p.rank = 10;
  p.passes = 2;
  p.seed = 42;
  return make_streaming_graph(replay(batches), p, 3, {1.0, 5.0});
}

std::uint64_t ratings_in(const std::vector<rating_batch>& batches) {
  std::uint64_t n = 0;
  for (const auto& b : batches)
    n += b.size();
  return n;
}

/// Ratings the model has applied: every rating counts once for its user.
std::uint64_t applied(const factor_model& m) {
  return std::accumulate(m.user_count().begin(), m.user_count().end(), std::uint64_t{0});
}

/// The failure-free model (the local engine's equals the cluster's bit for bit).
factor_model reference(const std::vector<rating_batch>& batches) {
  auto local = local_engine::make(graph_of(batches)).value();
  REQUIRE(local->run());
  return local->snapshot().value();
}

}  // namespace

TEST_CASE("cluster recovery: a node killed at any batch costs no rating and no model change",
          "[engine][multinode][recovery]") {
  const std::size_t n_batches = 30;
  auto batches = test::ml100k_batches(n_batches);
  auto expected = reference(batches);
  REQUIRE(applied(expected) == ratings_in(batches));
  // Before the first checkpoint, at one (10), just after one, mid-way, near the end.
  auto kill_at = GENERATE(std::uint64_t{3}, std::uint64_t{10}, std::uint64_t{11},
                          std::uint64_t{17}, std::uint64_t{29});
  const std::size_t victim = 1;
  INFO("node killed after batch " << kill_at << " completed");
  auto nodes = start_nodes(3);
  std::vector<std::string> events;
  cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()};
  o.recover = true;
  o.checkpoint_every = 10;
  o.on_event = [&](const std::string& line) { events.push_back(line); };
  auto cluster = cluster_engine::make(graph_of(batches), o);
  INFO((cluster ? std::string() : cluster.err().message));
  REQUIRE(cluster);
  std::uint64_t reported = 0;
  std::vector<std::uint64_t> seen;
  auto sum = (*cluster)->run([&](const batch_metrics& m) {
    seen.push_back(m.batch);
    reported += m.ratings;
    if (m.batch == kill_at)
      nodes[victim]->kill_hard();  // the next batch is in flight: killed mid-batch
  });
  INFO((sum ? std::string() : sum.err().message));
  REQUIRE(sum);
  CHECK(sum->end_of_stream);
  // The loss is noticed during the run or, when the batches in flight completed before
  // the kill took effect (kill_at 29: the last one), by the snapshot, which recovers
  // first.
  auto got = (*cluster)->snapshot();
  INFO((got ? std::string() : got.err().message));
  REQUIRE(got);
  CHECK((*cluster)->recoveries() == 1);
  for (const auto& e : events)
    UNSCOPED_INFO("event: " << e);
  REQUIRE(events.size() == 1);
  INFO(events[0]);
  // "at batch" while running; "after batch" if the snapshot's request found it first.
  CHECK_THAT(events[0],
             Catch::StartsWith("lost node " + nodes[victim]->address() + " at batch ")
               || Catch::StartsWith("lost node " + nodes[victim]->address() + " after batch "));
  // The newest checkpoint when the loss was noticed: the one before the kill, or a later
  // one if the batches in flight (at most 2) completed first.
  const std::string from = "from the checkpoint of batch ";
  auto at = events[0].find(from);
  REQUIRE(at != std::string::npos);
  auto ckpt = std::stoull(events[0].substr(at + from.size()));
  CHECK(ckpt % 10 == 0);
  CHECK(ckpt >= kill_at / 10 * 10);
  CHECK(ckpt <= kill_at + 2);
  CHECK_THAT(events[0], Catch::Contains("restoring user shards 1, item shards 1"));
  // Each batch reported once, in order; every rating counted once.
  std::vector<std::uint64_t> all(n_batches);
  std::iota(all.begin(), all.end(), 1);
  CHECK(seen == all);
  CHECK(reported == ratings_in(batches));
  CHECK(sum->ratings == ratings_in(batches));
  CHECK((*cluster)->history().size() == n_batches);
  CHECK((*cluster)->history().back().ratings_seen == ratings_in(batches));
  CHECK(applied(*got) == ratings_in(batches));
  require_equivalent(*got, expected);
  // The lost node's shards now live on the survivors.
  CHECK_THAT((*cluster)->explain(),
             Catch::Contains("node " + nodes[victim]->address() + ": user shards none, item "
                             "shards none"));
  cluster->reset();
  CHECK(nodes[0]->running());
  CHECK(nodes[2]->running());
}

TEST_CASE("cluster recovery: a second node lost after a recovery is recovered from too, "
          "and losing every node is a clear error",
          "[engine][multinode][recovery]") {
  auto batches = test::ml100k_batches(24);
  auto expected = reference(batches);
  auto nodes = start_nodes(3);
  std::vector<std::string> events;
  cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()};
  o.recover = true;
  o.checkpoint_every = 5;
  o.on_event = [&](const std::string& line) { events.push_back(line); };
  // Each checkpoint is handed out once (not again when a replay passes it), consistent.
  std::vector<std::uint64_t> checkpoints;
  o.on_checkpoint = [&](const factor_model& m, std::uint64_t b, std::uint64_t ratings,
                        const std::string&) {
    checkpoints.push_back(b);
    CHECK(applied(m) == ratings);
    CHECK(m.mu_count() == ratings);
  };
  auto cluster = cluster_engine::make(graph_of(batches), o);
  REQUIRE(cluster);
  auto sum = (*cluster)->run([&](const batch_metrics& m) {
    if (m.batch == 7)
      nodes[0]->kill_hard();
    if (m.batch == 9)
      nodes[2]->kill_hard();  // between checkpoints again, on the replayed placement
  });
  INFO((sum ? std::string() : sum.err().message));
  REQUIRE(sum);
  CHECK((*cluster)->recoveries() == 2);
  CHECK(checkpoints == std::vector<std::uint64_t>{5, 10, 15, 20});
  REQUIRE(events.size() == 2);
  CHECK_THAT(events[1], Catch::StartsWith("lost node " + nodes[2]->address()));
  CHECK_THAT(events[1], Catch::Contains("onto nodes " + nodes[1]->address()));
  CHECK(sum->ratings == ratings_in(batches));
  auto got = (*cluster)->snapshot();
  REQUIRE(got);
  require_equivalent(*got, expected);
  CHECK(applied(*got) == ratings_in(batches));
  cluster->reset();

  // A job on one node: when it goes, nothing can hold the shards.
  node_process single;
  auto again = cluster_engine::make(graph_of(batches), {.nodes = {{"127.0.0.1", single.port()}},
                                                        .secret = recflow::test::node_secret(),
                                                        .recover = true});
  INFO((again ? std::string() : again.err().message));
  REQUIRE(again);
  REQUIRE((*again)->run_n(2));
  single.kill_hard();
  auto lost = (*again)->run();
  REQUIRE_FALSE(lost);
  CHECK_THAT(lost.err().message, Catch::StartsWith("lost node 127.0.0.1:"));
  CHECK_THAT(lost.err().message, Catch::EndsWith("every node is lost: cannot recover"));
}

TEST_CASE("cluster engine: a seed model is loaded into the owners on the nodes",
          "[engine][multinode][recovery]") {
  auto batches = test::ml100k_batches(12);
  std::vector<rating_batch> first(batches.begin(), batches.begin() + 6);
  std::vector<rating_batch> rest(batches.begin() + 6, batches.end());
  auto seed = std::make_shared<const factor_model>(reference(first));
  auto g = graph_of(rest);
  g.seed_model = seed;
  auto local = local_engine::make(g).value();
  REQUIRE(local->run());
  auto nodes = start_nodes(2);
  auto cg = graph_of(rest);
  cg.seed_model = seed;
  auto cluster = cluster_engine::make(cg, {.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()});
  INFO((cluster ? std::string() : cluster.err().message));
  REQUIRE(cluster);
  REQUIRE((*cluster)->run());
  require_equivalent((*cluster)->snapshot().value(), local->snapshot().value());
  // ... and equals streaming all twelve batches from an empty model.
  require_equivalent((*cluster)->snapshot().value(), reference(batches));
}

TEST_CASE("cluster recovery: a node lost between runs is recovered from by the next snapshot",
          "[engine][multinode][recovery]") {
  auto batches = test::ml100k_batches(20);
  std::vector<rating_batch> first(batches.begin(), batches.begin() + 12);
  auto nodes = start_nodes(3);
  cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()};
  o.recover = true;
  o.checkpoint_every = 5;
  auto cluster = cluster_engine::make(graph_of(batches), o);
  REQUIRE(cluster);
  REQUIRE((*cluster)->run_n(12));
  nodes[2]->kill_hard();
  // The driver is idle: it hears of the loss (the connection closed) before it asks again.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto mid = (*cluster)->snapshot();  // restores batch 10, routes 11 and 12 again
  INFO((mid ? std::string() : mid.err().message));
  REQUIRE(mid);
  CHECK((*cluster)->recoveries() == 1);
  require_equivalent(*mid, reference(first));
  REQUIRE((*cluster)->run());
  require_equivalent((*cluster)->snapshot().value(), reference(batches));
}

TEST_CASE("cluster recovery: a node that stops answering is recovered from after the stall "
          "timeout",
          "[engine][multinode][recovery]") {
  auto batches = test::ml100k_batches(16);
  auto nodes = start_nodes(3);
  std::vector<std::string> events;
  cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()};
  o.engine.stall_timeout = std::chrono::milliseconds(1500);
  o.recover = true;
  o.checkpoint_every = 5;
  o.on_event = [&](const std::string& line) { events.push_back(line); };
  auto cluster = cluster_engine::make(graph_of(batches), o);
  REQUIRE(cluster);
  auto sum = (*cluster)->run([&](const batch_metrics& m) {
    if (m.batch == 7)
      nodes[1]->freeze();  // SIGSTOP: connections stay open, nothing answers
  });
  INFO((sum ? std::string() : sum.err().message));
  REQUIRE(sum);
  REQUIRE(events.size() == 1);
  CHECK_THAT(events[0], Catch::StartsWith("lost node " + nodes[1]->address() + " at batch "));
  CHECK_THAT(events[0], Catch::Contains("(no reply for 1500 ms)"));
  require_equivalent((*cluster)->snapshot().value(), reference(batches));
  cluster->reset();
  nodes[1]->kill_hard();
}

TEST_CASE("cluster placement: a lost node's shards go to the live nodes holding the fewest",
          "[engine][recovery]") {
  auto p = place_round_robin(4, 3);  // users on 0 1 2 0, items on 1 2 0 1
  REQUIRE(p.item_node == std::vector<std::size_t>{1, 2, 0, 1});
  auto q = replace_lost(p, {true, false, true});
  CHECK(q.user_node == std::vector<std::size_t>{0, 2, 2, 0});
  CHECK(q.item_node == std::vector<std::size_t>{0, 2, 0, 2});
  // Shards on live nodes never move; with one node left it holds everything.
  auto r = replace_lost(q, {false, false, true});
  CHECK(r.user_node == std::vector<std::size_t>{2, 2, 2, 2});
  CHECK(r.item_node == std::vector<std::size_t>{2, 2, 2, 2});
}

TEST_CASE("cluster recovery: with history_limit the history stays bounded through a recovery",
          "[engine][multinode][recovery]") {
  const std::size_t n_batches = 30;
  auto batches = test::ml100k_batches(n_batches);
  auto expected = reference(batches);
  auto nodes = start_nodes(3);
  cluster_options o{.nodes = recflow::test::endpoints<node_endpoint>(nodes), .secret = recflow::test::node_secret()};
  o.engine.history_limit = 4;
  o.recover = true;
  o.checkpoint_every = 10;
  auto cluster = cluster_engine::make(graph_of(batches), o);
  REQUIRE(cluster);
  std::vector<std::uint64_t> seen;
  auto sum = (*cluster)->run([&](const batch_metrics& m) {
    seen.push_back(m.batch);
    if (m.batch == 16)
      nodes[1]->kill_hard();  // 6 batches after the checkpoint of batch 10: more than the limit
  });
  INFO((sum ? std::string() : sum.err().message));
  REQUIRE(sum);
  CHECK((*cluster)->recoveries() == 1);
  std::vector<std::uint64_t> all(n_batches);
  std::iota(all.begin(), all.end(), 1);
  CHECK(seen == all);  // each reported once
  const auto& h = (*cluster)->history();
  CHECK(h.size() >= 4);
  CHECK(h.size() < 8);
  CHECK(h.back().batch == n_batches);
  for (std::size_t k = 1; k < h.size(); ++k)
    CHECK(h[k].batch == h[k - 1].batch + 1);
  auto got = (*cluster)->snapshot();
  REQUIRE(got);
  require_equivalent(*got, expected);
}
