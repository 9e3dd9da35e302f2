// The real `recflow` binary on live sources: publish to a real redis-server and stream
// from it, kill the trainer and resume from its checkpoint, dead letters, and the
// checkpoint fallback when the newest one is corrupt. (Redis restarts, logins and claims:
// test_sources_redis_cli.cpp.)
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/graph/checkpoint.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/split.hpp"
#include "redis_test_util.hpp"
#include "recflow/sources/redis_source.hpp"
#include "sources_cli_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using recflow::test::child_process;
using recflow::test::json_of;
using recflow::test::require_same_model;
using recflow::test::run_cli;
using recflow::test::scratch_dir;
using recflow::test::write_split;

TEST_CASE("recflow publish + stream --source redis: the model equals the file-source run's, "
          "and a trainer killed mid-stream resumes with nothing lost or applied twice",
          "[cli][redis]") {
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  scratch_dir dir;
  auto files = write_split(dir);
  auto redis = server->address();
  const std::string common = " --test " + files.test + " --no-csv -q --json --batch-size 1000";

  auto by_file = json_of(run_cli("stream --source file:" + files.train + common + " --save "
                                 + dir.file("file.rfm")));
  CHECK(by_file["train_ratings"] == files.train_size);

  auto pub = json_of(run_cli("publish --redis " + redis + " --stream whole --data " + files.train
                             + " --json"));
  CHECK(pub["published"] == files.train_size);
  auto by_redis = json_of(run_cli("stream --source redis://" + redis + "/whole" + common
                                  + " --save " + dir.file("redis.rfm")));
  INFO("file-source rmse " << by_file["rmse"] << ", redis rmse " << by_redis["rmse"]);
  CHECK(std::abs(by_redis["rmse"].get<double>() - by_file["rmse"].get<double>()) <= 0.005);
  CHECK(by_redis["train_ratings"] == files.train_size);
  CHECK(by_redis["dead_letters"] == 0);
  auto file_model = load_model(dir.file("file.rfm"));
  REQUIRE(file_model.has_value());
  {
    auto m = load_model(dir.file("redis.rfm"));
    REQUIRE(m.has_value());
    require_same_model(*m, *file_model);
  }

  // The restart: publish at a pace, kill the trainer once it has checkpointed twice.
  std::vector<rating_event> events;
  {
    auto t = read_ratings(files.train);
    REQUIRE(t.has_value());
    events = to_batch(t->ratings, t->users, t->items).ratings;
  }
  redis_publish_options po;
  po.at = {server->endpoint(), "paced"};
  po.rate = 40'000;
  result<redis_publish_report> published = error{errc::io, "not run"};
  std::thread publisher([&] { published = publish_ratings(po, events); });
  struct joiner {
    std::thread& t;
    ~joiner() { if (t.joinable()) t.join(); }
  } join_publisher{publisher};

  auto ckpt = dir.file("ckpt");
  std::vector<std::string> args{"stream", "--source", "redis://" + redis + "/paced", "--test",
                                files.test, "--no-csv", "-q", "--checkpoint-dir", ckpt,
                                "--checkpoint-every", "5"};
  child_process trainer(args, dir.file("killed.log"));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (list_checkpoints(ckpt).size() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(list_checkpoints(ckpt).size() >= 2);
  trainer.signal(SIGKILL);
  CHECK(trainer.wait(std::chrono::seconds(60)) == 128 + SIGKILL);
  auto killed_at = load_latest_checkpoint(ckpt);
  REQUIRE(killed_at.has_value());
  REQUIRE(killed_at->has_value());
  INFO("killed after checkpoint " << (*killed_at)->path);
  CHECK((*killed_at)->mark.ratings < files.train_size);  // really mid-stream

  auto resumed = json_of(run_cli("stream --source redis://" + redis + "/paced" + common
                                 + " --checkpoint-dir " + ckpt + " --checkpoint-every 5"
                                 + " --resume --save " + dir.file("resumed.rfm")));
  publisher.join();
  REQUIRE(published.has_value());
  CHECK(published->published == files.train_size);
  CHECK(resumed["resumed_from"] == (*killed_at)->path);
  CHECK(resumed["train_ratings"] == files.train_size);  // applied == published
  auto m = load_model(dir.file("resumed.rfm"));
  REQUIRE(m.has_value());
  CHECK(m->mu_count() == files.train_size);  // the running mean saw each rating once
  require_same_model(*m, *file_model);
}

TEST_CASE("recflow stream --resume: a corrupt newest checkpoint is reported and the previous "
          "one used, and the final model is the uninterrupted run's",
          "[cli][checkpoint]") {
  scratch_dir dir;
  auto d = recflow::test::data_dir() + "/ml-100k/";
  auto common = " --source file:" + d + "u1.base --test " + d + "u1.test -q --json";
  auto whole = json_of(run_cli("stream" + common + " --no-csv --save " + dir.file("whole.rfm")));
  auto ckpt = dir.file("ckpt");
  auto csv = " --csv " + dir.file("batches.csv");
  auto first = json_of(run_cli("stream" + common + csv + " --max-batches 23 --checkpoint-dir "
                               + ckpt + " --checkpoint-every 5 --checkpoint-keep 3"));
  CHECK(first["batches"] == 23);
  auto files = list_checkpoints(ckpt);
  REQUIRE(files.size() == 3);  // 15, 20, 23
  std::filesystem::resize_file(files.back(), std::filesystem::file_size(files.back()) - 3);
  auto r = run_cli("stream" + common + csv + " --checkpoint-dir " + ckpt + " --resume --save "
                   + dir.file("resumed.rfm"));
  {  // one CSV row per batch 1..80: rows 21..23 of the first run were replaced, not repeated
    std::ifstream f(dir.file("batches.csv"));
    std::string line;
    std::getline(f, line);
    CHECK(line.starts_with("batch,"));
    int expect = 1;
    while (std::getline(f, line))
      CHECK(line.starts_with(std::to_string(expect++) + ","));
    CHECK(expect == 81);
  }
  CHECK_THAT(r.out, Catch::Contains("skipping a bad checkpoint") && Catch::Contains("ckpt-000000000023.rfm"));
  auto resumed = json_of(r);
  CHECK(resumed["resumed_from"].get<std::string>().ends_with("ckpt-000000000020.rfm"));
  CHECK(resumed["batches_this_run"] == 60);
  CHECK(resumed["batches"] == whole["batches"]);
  auto a = load_model(dir.file("resumed.rfm"));
  auto b = load_model(dir.file("whole.rfm"));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  require_same_model(*a, *b);

  SECTION("resuming from --train/--data in memory (no source positions) skips what was applied") {
    auto mem = " --data " + d + "u.data --no-csv -q --json";
    auto full = json_of(run_cli("stream" + mem + " --save " + dir.file("mem-full.rfm")));
    auto ck2 = dir.file("ck2");
    json_of(run_cli("stream" + mem + " --max-batches 7 --checkpoint-dir " + ck2 + " --checkpoint-every 3"));
    auto rest = json_of(run_cli("stream" + mem + " --checkpoint-dir " + ck2 + " --resume --save "
                                + dir.file("mem-resumed.rfm")));
    CHECK(rest["batches"] == full["batches"]);
    CHECK(rest["rmse"] == full["rmse"]);
    auto x = load_model(dir.file("mem-resumed.rfm"));
    auto y = load_model(dir.file("mem-full.rfm"));
    REQUIRE(x.has_value());
    REQUIRE(y.has_value());
    require_same_model(*x, *y);
  }
}

TEST_CASE("recflow stream --source: malformed records are dead letters (an eos field too: "
          "only the control key ends the stream), the run goes on, and bad specs are usage errors",
          "[cli][redis]") {
  CHECK(run_cli("stream --source kafka://x:1/t --no-csv").status == 2);
  CHECK(run_cli("stream --source redis://127.0.0.1/t --no-csv").status == 2);
  CHECK(run_cli("stream --resume --no-csv").status == 2);
  CHECK(run_cli("publish --redis 127.0.0.1:1 --stream s --data x --rate fast").status == 2);
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  for (auto fields : std::vector<std::vector<std::string>>{
         {"user", "1", "item", "2", "rating", "4"}, {"user", "1", "item", "2", "rating", "11"},
         {"user", "1", "item", "x", "rating", "4"}, {"hello", "world"},
         {"user", "2", "item", "3", "rating", "2.5", "timestamp", "99"}, {"eos", "1"}}) {
    std::vector<std::string> args{"XADD", "mixed", "*"};
    args.insert(args.end(), fields.begin(), fields.end());
    REQUIRE(c->command(args));
  }
  REQUIRE(c->command({"SET", "mixed:end", "1"}));
  auto r = run_cli("stream --source redis://" + server->address()
                   + "/mixed --redis-eos-key mixed:end --no-csv --json");
  auto j = json_of(r);
  CHECK(j["train_ratings"] == 2);
  CHECK(j["dead_letters"] == 4);
  CHECK_THAT(r.out, Catch::Contains("outside the scale") && Catch::Contains("item 'x'")
                      && Catch::Contains("missing field user")
                      && Catch::Contains("'eos' does not end the stream"));
  auto dead = c->command({"XLEN", "mixed:dead"});
  REQUIRE(dead.has_value());
  CHECK(dead->integer_value == 4);
  auto pending = c->command({"XPENDING", "mixed", "recflow"});
  REQUIRE(pending.has_value());
  CHECK(pending->elements.at(0).integer_value == 0);  // every entry acknowledged
}

TEST_CASE("recflow publish --tcp + stream --source tcp://, and --source replay:, train on every "
          "rating of the file",
          "[cli][sources]") {
  scratch_dir dir;
  auto d = recflow::test::data_dir() + "/ml-100k/";
  auto file = json_of(run_cli("stream --source file:" + d + "u1.base --test " + d
                              + "u1.test --no-csv -q --json"));
  auto port = std::to_string(recflow::test::free_port());
  child_process server({"publish", "--tcp", "127.0.0.1:" + port, "--data", d + "u1.base"},
                       dir.file("serve.log"));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto serving = [&] { return server.output().find("serving") != std::string::npos; };
  while (!serving() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(serving());
  auto tcp = json_of(run_cli("stream --source tcp://127.0.0.1:" + port + " --test " + d
                             + "u1.test --no-csv -q --json"));
  const int status = server.wait(std::chrono::seconds(60));  // 128 + N: killed by signal N
  CHECK(status >= 0);
  CHECK(status < 128);
  CHECK(tcp["train_ratings"] == file["train_ratings"]);
  CHECK(tcp["rmse"] == file["rmse"]);  // same lines, same batches: the same model
  CHECK(tcp["dead_letters"] == 0);

  auto replay = json_of(run_cli("stream --source replay:" + d + "u1.base --test " + d
                                + "u1.test --no-csv -q --json --replay-speed 0 "
                                  "--batch-interval 604800 --batch-size 100000"));
  CHECK(replay["train_ratings"] == file["train_ratings"]);
  CHECK(replay["batches"].get<int>() > 20);  // weekly batches over seven months
  CHECK(replay["position"] == "rating:80000");
}
