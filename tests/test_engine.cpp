#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>

#include "recflow/data/ingest.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/stream_job.hpp"
#include "recflow/model/streaming.hpp"
#include "engine_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using test::reference_runner;
using test::replay;
using test::require_equivalent;
using test::take_batches;

namespace {

stream_params equivalence_params(int rank = 8) {
  stream_params p;
  p.rank = rank;  // 8 runs the runtime-sized kernels, 10 and 50 the fixed-size ones
  p.passes = 2;
  p.seed = 42;
  return p;
}

}  // namespace

TEST_CASE("local engine: the graph's model equals the single-threaded streaming trainer",
          "[engine][equivalence]") {
  auto partitions = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4});
  auto data = GENERATE(as<std::string>{}, "planted", "ml-100k");
  auto rank = GENERATE(8, 10);
  std::vector<rating_batch> batches;
  rating_scale scale{1.0, 5.0};
  if (data == "planted") {
    auto src = synthetic_source({.users = 300, .items = 200, .ratings = 20'000,
                                 .batch_size = 500, .seed = 11});
    batches = take_batches(*src, 1000);
  } else {
    auto src = file_source(test::data_dir() + "/ml-100k/u.data", {}, {.max_ratings = 1000});
    batches = take_batches(*src, 30);
  }
  INFO(data << ", rank " << rank << ", " << partitions << " partition(s), " << batches.size()
            << " batches");
  auto p = equivalence_params(rank);
  reference_runner ref(p, scale);
  for (const auto& b : batches)
    ref.apply(b);

  require_equivalent(test::local_model_after(batches, p, partitions, scale), ref.model());
}

TEST_CASE("local engine: a graph seeded with a trained model goes on as the seeded trainer does",
          "[engine][equivalence][seed]") {
  auto partitions = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4});
  INFO(partitions << " partition(s)");
  // Many users, so that the batches after the seed bring new keys as well as known ones.
  auto batches = take_batches(*synthetic_source({.users = 6000, .items = 400, .ratings = 24'000,
                                                 .batch_size = 1000, .seed = 5}),
                              100);
  REQUIRE(batches.size() == 24);
  // The seed: a model trained on the first 12 batches with other settings.
  auto seed_params = equivalence_params(10);
  seed_params.passes = 1;
  seed_params.gamma = 0.05;
  reference_runner seeder(seed_params, rating_scale{});
  for (std::size_t b = 0; b < 12; ++b)
    seeder.apply(batches[b]);
  auto seed = std::make_shared<const factor_model>(seeder.model());
  std::vector<rating_batch> rest(batches.begin() + 12, batches.end());

  auto p = equivalence_params(10);
  reference_runner ref(p, *seed);
  for (const auto& b : rest)
    ref.apply(b);
  CHECK(ref.model().n_users() > seed->n_users());  // the rest brings new users

  auto g = make_streaming_graph(replay(rest), p, partitions);
  g.seed_model = seed;
  auto engine = local_engine::make(g, {.workers = 2, .max_in_flight = 2});
  REQUIRE(engine);
  // Before any batch, the snapshot is the seed itself.
  require_equivalent((*engine)->snapshot().value(), *seed);
  REQUIRE((*engine)->run());
  require_equivalent((*engine)->snapshot().value(), ref.model());

  // A seed of another rank is refused before anything runs.
  auto wrong = make_streaming_graph(replay(rest), equivalence_params(8), partitions);
  wrong.seed_model = seed;
  auto refused = local_engine::make(wrong);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().message == "seed model has rank 10, params say 8");
}

TEST_CASE("local engine: snapshots after any batch match the reference at that batch",
          "[engine][equivalence]") {
  auto batches = take_batches(
    *synthetic_source({.users = 80, .items = 60, .ratings = 3000, .batch_size = 300}), 100);
  auto p = equivalence_params();
  reference_runner ref(p, rating_scale{});
  auto engine = local_engine::make(make_streaming_graph(replay(batches), p, 3), {}).value();
  for (std::size_t b = 0; b < 4; ++b) {
    ref.apply(batches[b]);
    auto sum = engine->run_n(1);
    REQUIRE(sum);
    CHECK(sum->batches == 1);
    require_equivalent(engine->snapshot().value(), ref.model());
  }
  CHECK(engine->history().size() == 4);
}

TEST_CASE("local engine: a graph runs to the end of its stream and reports metrics",
          "[engine]") {
  auto validation = std::make_shared<rating_table>(test::make_planted({.users = 60, .items = 50}).table);
  auto g = make_streaming_graph(
    synthetic_source({.users = 60, .items = 50, .ratings = 5000, .batch_size = 250}),
    stream_params{}, 2);
  g.evaluation = evaluation_options{validation, 5};
  auto engine = local_engine::make(g).value();
  std::size_t calls = 0;
  auto sum = engine->run([&](const batch_metrics&) { ++calls; });
  REQUIRE(sum);
  CHECK(sum->batches == 20);
  CHECK(calls == 20);
  CHECK(sum->ratings == 5000);
  CHECK(engine->finished());
  const auto& h = engine->history();
  REQUIRE(h.size() == 20);
  CHECK(h.back().ratings_seen == 5000);
  CHECK(h[4].rmse.has_value());
  CHECK_FALSE(h[3].rmse.has_value());
  // Every user owner ships one rows message per item owner per pass, and back.
  CHECK(h[0].edges[std::size_t(edge_index::users_to_items)].messages == 4u * unsigned(g.training.passes));
  CHECK(h[0].edges[std::size_t(edge_index::items_to_users)].messages == 4u * unsigned(g.training.passes));
  CHECK(h[0].edges[std::size_t(edge_index::partition_to_users)].bytes > 0);
  CHECK(h[0].latency_seconds > 0.0);
  // Running again after the end does nothing.
  auto again = engine->run();
  REQUIRE(again);
  CHECK(again->batches == 0);
  // run_until stops once the predicate holds.
  auto e2 = local_engine::make(make_streaming_graph(
    synthetic_source({.users = 60, .items = 50, .ratings = 5000, .batch_size = 250}),
    stream_params{}, 2), {.max_in_flight = 1}).value();
  auto until = e2->run_until([](const batch_metrics& m) { return m.batch == 7; });
  REQUIRE(until);
  CHECK(until->batches == 7);
}

TEST_CASE("local engine: each validation error is evaluate()'s on the model of its batch, "
          "though only changed rows are predicted again", "[engine][evaluation]") {
  auto partitions = GENERATE(std::size_t{1}, std::size_t{3});
  auto every = GENERATE(std::size_t{1}, std::size_t{3});
  // Where the batch ran (packed: a small set), and spread over the workers.
  auto spread = GENERATE(false, true);
  INFO(partitions << " partition(s), evaluated after every " << every << " batch(es)"
                  << (spread ? ", spread" : ""));
  test::scoped_env where("RECFLOW_SPREAD_EVAL_WORK", spread ? "0" : nullptr);
  auto validation =
    std::make_shared<rating_table>(test::make_planted({.users = 300, .items = 200}).table);
  // Small batches: each touches a few users and items, so most cores are kept.
  auto g = make_streaming_graph(
    synthetic_source({.users = 300, .items = 200, .ratings = 3000, .batch_size = 60}),
    equivalence_params(10), partitions);
  g.evaluation = evaluation_options{validation, every};
  std::vector<factor_model> models;
  g.on_model = [&](std::uint64_t, factor_model&& m) { models.push_back(std::move(m)); };
  auto engine = local_engine::make(g).value();
  REQUIRE(engine->run());
  const auto& h = engine->history();
  REQUIRE(h.size() == 50);
  REQUIRE(models.size() == 50);  // published after every batch
  std::size_t evaluated = 0;
  for (std::size_t k = 0; k < h.size(); ++k) {
    INFO("batch " << k + 1);
    REQUIRE(h[k].rmse.has_value() == ((k + 1) % every == 0));
    if (!h[k].rmse)
      continue;
    ++evaluated;
    auto want = evaluate(models[k], *validation);
    CHECK(*h[k].rmse == want.rmse);  // bit for bit
    CHECK(*h[k].mae == want.mae);
  }
  CHECK(evaluated == 50 / every);
}

TEST_CASE("local engine: a source that fails midway reports its error and stops cleanly",
          "[engine]") {
  auto mode = GENERATE(as<std::string>{}, "error", "throw");
  auto calls = std::make_shared<int>(0);
  auto src = source_from([calls, mode]() -> result<std::optional<rating_batch>> {
    if (++*calls <= 3) {
      rating_batch b;
      for (int k = 0; k < 50; ++k)
        b.ratings.push_back({k % 7, k % 5, 3.0f, 0});
      return std::optional<rating_batch>{std::move(b)};
    }
    if (mode == "throw")
      throw std::runtime_error("connection reset");
    return error{errc::parse, "line 151: bad rating"};
  });
  auto engine = local_engine::make(make_streaming_graph(src, stream_params{}, 2)).value();
  auto sum = engine->run();
  REQUIRE_FALSE(sum);
  CHECK_THAT(sum.err().message,
             Catch::Contains(mode == "throw" ? "connection reset" : "line 151: bad rating"));
  // The three good batches completed and the model is consistent.
  CHECK(engine->history().size() == 3);
  auto model = engine->snapshot();
  REQUIRE(model);
  CHECK(model->mu_count() == 150);
  CHECK(engine->finished());
}

TEST_CASE("local engine: backpressure bounds the batches in flight", "[engine]") {
  auto bound = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4});
  auto pulled = std::make_shared<std::atomic<int>>(0);
  auto inner = synthetic_source({.users = 100, .items = 80, .ratings = 20'000, .batch_size = 200});
  auto src = source_from([pulled, inner]() {
    ++*pulled;
    return inner->next();
  });
  auto engine = local_engine::make(make_streaming_graph(src, stream_params{}, 2),
                                   {.max_in_flight = bound}).value();
  std::size_t most_ahead = 0;
  auto sum = engine->run([&](const batch_metrics& m) {
    // Pulled batches never run ahead of completed ones by more than the bound.
    most_ahead = std::max(most_ahead, std::size_t(pulled->load()) - (m.batch - 1));
  });
  REQUIRE(sum);
  CHECK(sum->batches == 100);
  CHECK(sum->max_in_flight_seen <= bound);
  CHECK(most_ahead <= bound);
  if (bound > 1)
    CHECK(sum->max_in_flight_seen == bound);
}

TEST_CASE("local engine: invalid graphs and options are refused before anything runs",
          "[engine]") {
  streaming_graph g;
  auto r = local_engine::make(g);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "graph has no source");
  auto ok = make_streaming_graph(memory_source(std::vector<rating_event>{}), stream_params{}, 2);
  auto w = local_engine::make(ok, {.workers = 0});
  REQUIRE_FALSE(w);
  CHECK(w.err().message == "workers must be positive, got 0");
}

/// The job that streams `train` as `opts` says, validating on `validation`.
static stream_job_options table_job(const stream_params& p, const rating_table& train,
                                    const rating_table& validation,
                                    const stream_eval_options& opts) {
  stream_job_options job;
  job.training = p;
  job.input = table_input{std::make_shared<const rating_table>(train), opts.batch_size,
                          opts.order, opts.order_seed};
  job.max_batches = opts.max_batches;
  job.evaluation = {std::make_shared<const rating_table>(validation), opts.eval_every};
  return job;
}

TEST_CASE("stream job: the stream_eval protocol on the graph reports what stream_evaluate does",
          "[engine][equivalence]") {
  auto train = read_ratings(test::data_dir() + "/ml-100k/u1.base");
  REQUIRE(train);
  rating_table validation = *train;  // shares the id space
  auto test_file = read_ratings_into(test::data_dir() + "/ml-100k/u1.test", {}, validation);
  REQUIRE(test_file);
  validation.ratings.erase(validation.ratings.begin(),
                           validation.ratings.begin() + std::ptrdiff_t(train->size()));
  stream_params p;
  p.passes = 2;
  stream_eval_options opts{.batch_size = 1000, .max_batches = 12};
  streaming_trainer ref(p, train->scale);
  auto expected = stream_evaluate(ref, *train, validation, opts);
  REQUIRE(expected);
  auto partitions = GENERATE(std::size_t{1}, std::size_t{3});
  auto partitioner = GENERATE(partitioner_kind::hash, partitioner_kind::modulo,
                              partitioner_kind::range, partitioner_kind::random,
                              partitioner_kind::degree, partitioner_kind::consistent);
  INFO(partitions << " partitions, " << to_string(partitioner));
  auto job = table_job(p, *train, validation, opts);
  job.partitions = partitions;
  job.partitioner = partitioner;
  auto got = run_stream_job(job);
  REQUIRE(got);
  REQUIRE(got->reports.size() == expected->size());
  for (std::size_t b = 0; b < got->reports.size(); ++b) {
    CHECK(got->reports[b].ratings_seen == (*expected)[b].ratings_seen);
    // The owners evaluate their shares in place and in parallel; the errors are summed in
    // validation order, as evaluate() sums them: the same value, bit for bit.
    CHECK(got->reports[b].rmse == (*expected)[b].rmse);
    CHECK(got->reports[b].mae == (*expected)[b].mae);
  }
  CHECK(got->model == ref.model());
  CHECK(parse_partitioner_kind(to_string(partitioner)).value() == partitioner);
  auto bad = parse_partitioner_kind("grid");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message
        == "unknown partitioner 'grid' (hash, modulo, range, random, degree, consistent)");
}

TEST_CASE("stream job: with eval_every the graph evaluates the batches the reference does",
          "[engine][equivalence]") {
  auto train = read_ratings(test::data_dir() + "/ml-100k/u1.base");
  REQUIRE(train);
  rating_table validation = *train;  // shares the id space
  REQUIRE(read_ratings_into(test::data_dir() + "/ml-100k/u1.test", {}, validation));
  validation.ratings.erase(validation.ratings.begin(),
                           validation.ratings.begin() + std::ptrdiff_t(train->size()));
  stream_params p;
  p.passes = 2;
  stream_eval_options opts{.batch_size = 2000, .max_batches = 10, .eval_every = 4};
  streaming_trainer ref(p, train->scale);
  auto expected = stream_evaluate(ref, *train, validation, opts);
  REQUIRE(expected);
  auto job = table_job(p, *train, validation, opts);
  job.partitions = 3;
  auto got = run_stream_job(job);
  REQUIRE(got);
  REQUIRE(got->reports.size() == expected->size());
  for (std::size_t b = 0; b < got->reports.size(); ++b) {
    INFO("batch " << b + 1);
    CHECK(got->reports[b].evaluated == ((b + 1) % 4 == 0));
    CHECK(got->reports[b].evaluated == (*expected)[b].evaluated);
    CHECK(got->reports[b].rmse == (*expected)[b].rmse);
  }
  CHECK(got->model == ref.model());
}
