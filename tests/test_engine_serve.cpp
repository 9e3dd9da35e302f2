// Serving while the actor graph trains: queries run concurrently with the stream and each
// answer equals the model of the version it reports (never half a batch).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/engine/stream_job.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/split.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "recflow/serve/stream_link.hpp"
#include "tests/serve_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;

TEST_CASE("engine serve: concurrent queries see whole batches while the stream trains", "[engine][serve]") {
  auto table = read_ratings(test::data_dir() + "/ml-100k/u.data");
  REQUIRE(table);
  auto sp = random_split(table->ratings, 0.8, 42);
  auto train = table->with_ratings(sp.train);
  auto test_set = table->with_ratings(sp.test);
  stream_params params;
  params.rank = 10;
  stream_eval_options eval{.batch_size = 250};

  serve::query_service svc;
  svc.publish(std::make_shared<const factor_model>(params.rank, train.scale), 0);
  serve::stream_link link(svc);
  // What each version predicts for (user 1, item 50), recorded before it is published.
  std::mutex truth_mutex;
  std::map<std::uint64_t, double> truth{{0, factor_model(params.rank, train.scale).predict_external(1, 50)}};
  stream_job_options local;
  local.training = params;
  local.input = table_input{std::make_shared<const rating_table>(train), eval.batch_size};
  local.evaluation.validation = std::make_shared<const rating_table>(test_set);
  local.publish_interval = std::chrono::milliseconds(0);  // every batch: each version is checked
  local.wrap_source = [&](std::shared_ptr<rating_source> s) { return link.wrap(std::move(s)); };
  local.on_model = [&](std::uint64_t batch, factor_model&& m) {
    {
      std::lock_guard lock(truth_mutex);
      truth[batch] = m.predict_external(1, 50);
    }
    link.on_model(batch, std::move(m));
  };
  auto server = serve::http_server::start(svc, {.host = "127.0.0.1", .port = 0, .threads = 1});
  REQUIRE(server);
  auto port = (*server)->port();

  std::atomic<bool> done{false};
  struct seen { std::uint64_t version; double prediction; };
  std::vector<std::vector<seen>> answers(3);
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (std::size_t t = 0; t < answers.size(); ++t)
    clients.emplace_back([&, t] {
      test::http_client c(port);
      while (!done.load()) {
        auto r = c.get(t == 0 ? "/predict?user=1&item=50" : (t == 1 ? "/recommend?user=1&n=10" : "/similar?item=50&n=5"));
        if (r.status != 200 && !(t == 2 && r.status == 404)) {  // item 50 may not be trained yet
          ++failures;
          continue;
        }
        if (t == 0) {
          auto j = r.json();
          answers[t].push_back({j["version"].get<std::uint64_t>(), j["prediction"].get<double>()});
        }
      }
    });
  auto run = run_stream_job(local);
  link.flush();
  done = true;
  for (auto& t : clients)
    t.join();
  REQUIRE(run);
  CHECK(run->reports.size() == 320);
  CHECK(failures == 0);
  REQUIRE(answers[0].size() > 10);
  std::uint64_t last = 0;
  std::size_t mismatched = 0, versions = 0;
  for (const auto& a : answers[0]) {
    CHECK(a.version >= last);
    versions += a.version != last;
    last = a.version;
    std::lock_guard lock(truth_mutex);
    REQUIRE(truth.count(a.version) == 1);
    mismatched += a.prediction != truth.at(a.version);
  }
  CHECK(mismatched == 0);
  CHECK(versions > 5);  // the queries really ran while the model changed
  CHECK(svc.snapshot()->version == 320);
  CHECK(svc.snapshot()->model->predict_external(1, 50) == run->model.predict_external(1, 50));
  // The rated-items index the publisher extends batch by batch equals one built at the end.
  auto want = rated_in_model(run->model, train.ratings, train.users, train.items);
  CHECK(svc.snapshot()->model->rated().offsets == want.offsets);
  CHECK(svc.snapshot()->model->rated().items == want.items);
}
