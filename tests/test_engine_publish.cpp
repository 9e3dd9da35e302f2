// Serving snapshots off the local engine: on_model receives whole-batch models, as often
// as publish_interval allows, whether or not the graph evaluates.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/model/streaming.hpp"
#include "engine_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using test::replay;
using test::require_equivalent;
using test::take_batches;

namespace {

/// The single-threaded reference after each of `batches` (index k: after k + 1 batches).
std::vector<factor_model> reference_models(const stream_params& p, rating_scale scale,
                                           const std::vector<rating_batch>& batches) {
  streaming_trainer trainer(p, scale);
  id_map users, items;
  std::vector<rating> rs;
  std::vector<factor_model> out;
  for (const auto& b : batches) {
    rs.clear();
    for (const auto& e : b.ratings)
      rs.push_back({users.insert(e.user), items.insert(e.item), e.value, e.timestamp});
    REQUIRE(trainer.apply(rs, users, items));
    out.push_back(trainer.model());
  }
  return out;
}

struct published_run {
  std::map<std::uint64_t, factor_model> models;  ///< by batch number (1-based)
  std::vector<batch_metrics> history;
};

published_run run_publishing(const std::vector<rating_batch>& batches, const stream_params& p,
                             rating_scale scale, std::chrono::milliseconds interval,
                             bool evaluate) {
  published_run out;
  auto g = make_streaming_graph(replay(batches), p, 2, scale);
  if (evaluate) {
    auto v = std::make_shared<rating_table>();
    v->scale = scale;
    g.evaluation = evaluation_options{v, 3};
  }
  g.publish_interval = interval;
  g.on_model = [&](std::uint64_t batch, factor_model&& m) {
    REQUIRE(out.models.count(batch) == 0);
    out.models.emplace(batch, std::move(m));
  };
  auto engine = local_engine::make(std::move(g));
  REQUIRE(engine);
  auto sum = (*engine)->run();
  REQUIRE(sum);
  out.history = (*engine)->history();
  return out;
}

}  // namespace

TEST_CASE("local engine: publish interval 0 hands over every batch's model, equal to the reference's",
          "[engine][serve][publish]") {
  auto data = read_ratings(test::data_dir() + "/ml-100k/u.data");
  REQUIRE(data);
  auto src = memory_source(to_batch(data->ratings, data->users, data->items).ratings,
                           {.max_ratings = 500});
  auto batches = take_batches(*src, 24);
  REQUIRE(batches.size() == 24);
  stream_params p;
  p.rank = 8;
  p.passes = 2;
  auto ref = reference_models(p, data->scale, batches);
  bool evaluate = GENERATE(false, true);  // handing over is independent of evaluation
  INFO("evaluation every 3rd batch: " << evaluate);
  auto run = run_publishing(batches, p, data->scale, std::chrono::milliseconds(0), evaluate);
  REQUIRE(run.models.size() == batches.size());
  for (const auto& [batch, m] : run.models) {
    INFO("batch " << batch);
    require_equivalent(m, ref.at(batch - 1));
  }
  for (const auto& h : run.history)
    CHECK(h.rmse.has_value() == (evaluate && h.batch % 3 == 0));
}

TEST_CASE("local engine: a long publish interval hands over the first batch only",
          "[engine][serve][publish]") {
  auto data = read_ratings(test::data_dir() + "/ml-100k/u.data");
  REQUIRE(data);
  auto src = memory_source(to_batch(data->ratings, data->users, data->items).ratings,
                           {.max_ratings = 500});
  auto batches = take_batches(*src, 12);
  stream_params p;
  p.rank = 8;
  auto ref = reference_models(p, data->scale, batches);
  auto run = run_publishing(batches, p, data->scale, std::chrono::hours(1), false);
  REQUIRE(run.models.size() == 1);
  REQUIRE(run.models.count(1) == 1);
  require_equivalent(run.models.at(1), ref.front());
  CHECK(run.history.size() == batches.size());
}
