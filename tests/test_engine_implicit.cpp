// Streaming implicit ALS on the actor graph: the model equals the reference trainer's bit
// for bit (partitions 1..3, hash and modulo, both solvers, from empty and from a batch
// model), bad weights change nothing, and the job scores what it streamed.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "recflow/engine/implicit_graph.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "recflow/model/random.hpp"
#include "support/implicit_stream_feed.hpp"
#include "support/planted_groups.hpp"

using namespace recflow;

using recflow::test::feed;
using recflow::test::random_stream;

TEST_CASE("implicit graph: every partition count gives the reference's model bit for bit",
          "[engine][implicit][equivalence]") {
  const auto events = random_stream(1500);
  implicit_stream_params p;
  p.als.rank = 8;
  p.refresh_every = 4;
  p.passes = GENERATE(1, 2);
  p.als.solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  auto ref = implicit_stream_trainer::make(p).value();
  feed(ref, events, 200);
  const auto expected = ref.model();
  CHECK(expected.n_users() == 80);
  for (std::size_t parts : {1, 2, 3}) {
    implicit_graph_options o;
    o.partitions = parts;
    auto g = implicit_graph::make(p, o).value();
    feed(*g, events, 200);
    CHECK(g->batches() == 8);
    CHECK(g->model() == expected);
  }
  implicit_graph_options modulo;
  modulo.user_partitioner = modulo_partitioner{2};
  modulo.item_partitioner = modulo_partitioner{2};
  auto g = implicit_graph::make(p, modulo).value();
  feed(*g, events, 200);
  CHECK(g->model() == expected);
}

TEST_CASE("implicit graph: seeded from batch implicit ALS, equal to the seeded reference",
          "[engine][implicit][equivalence]") {
  const auto d = test::make_planted_groups();
  implicit_params batch_p;
  batch_p.rank = 4;
  batch_p.iterations = 5;
  const auto seed = train_implicit_als(d.table, batch_p).value();
  implicit_stream_params p;
  p.als = batch_p;
  auto ref = implicit_stream_trainer::make(p, &seed).value();
  auto g = implicit_graph::make(p, {.partitions = 3}, &seed).value();
  CHECK(g->model() == ref.model());
  std::vector<stamped_event> more;
  for (int u = 0; u < 60; u += 7)
    more.push_back({u, 1000 + (u * 3) % 30, 2.0f, 0});
  feed(ref, more, 5);
  feed(*g, more, 5);
  CHECK(g->model() == ref.model());
  p.als.rank = 5;
  CHECK_FALSE(implicit_graph::make(p, {}, &seed));
}

TEST_CASE("implicit graph: a bad weight fails the batch and changes nothing",
          "[engine][implicit]") {
  implicit_stream_params p;
  p.als.rank = 4;
  auto g = implicit_graph::make(p).value();
  auto events = random_stream(40);
  feed(*g, events, 20);
  const auto before = g->model();
  auto bad = random_stream(10);
  bad[3].weight = std::numeric_limits<float>::infinity();
  auto r = g->apply(bad);
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("event 4 of the batch") != std::string::npos);
  CHECK(g->model() == before);
  CHECK(g->batches() == 2);
  feed(*g, events, 20);  // still usable
  CHECK(g->batches() == 4);
  CHECK_FALSE(implicit_graph::make(p, {.partitions = 0}));
}

TEST_CASE("implicit stream job: graph and reference score the same, above popularity",
          "[engine][implicit]") {
  const auto d = test::make_planted_groups();
  implicit_stream_job_options o;
  o.params.als.rank = 4;
  o.params.als.lambda = 1.0;
  o.batch_size = 50;
  o.ranking.negatives = 20;
  std::vector<std::uint64_t> scored;
  auto graph = run_implicit_stream_job(d.table, o, [&](const implicit_batch_report& b) {
    if (b.ranking)
      scored.push_back(b.batch);
  });
  REQUIRE(graph);
  o.reference = true;
  auto ref = run_implicit_stream_job(d.table, o);
  REQUIRE(ref);
  CHECK(graph->model == ref->model);
  CHECK(graph->held_out == 60);
  CHECK(graph->train_events == d.table.ratings.size() - 60);
  CHECK(graph->batches == (graph->train_events + 49) / 50);
  CHECK(scored.size() == graph->batches);
  CHECK(graph->ranking.hit_rate == ref->ranking.hit_rate);
  CHECK(graph->ranking.hit_rate > graph->popularity.hit_rate);
  o.batch_size = 0;
  CHECK_FALSE(run_implicit_stream_job(d.table, o));
}
