// The real `recflow` binary against a real redis-server that misbehaves: killed and
// restarted mid-stream, an ACL user with an owner-only password file, and a trainer
// killed with entries pending that another one claims.
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
#include "recflow/model/model_io.hpp"
#include "recflow/sources/redis_source.hpp"
#include "redis_test_util.hpp"
#include "sources_cli_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using recflow::test::child_process;
using recflow::test::json_of;
using recflow::test::require_same_model;
using recflow::test::run_cli;
using recflow::test::scratch_dir;
using recflow::test::write_split;

TEST_CASE("recflow stream --source redis: redis-server killed and restarted mid-stream, the run "
          "goes on and the model equals the uninterrupted run's",
          "[cli][redis]") {
  auto server = recflow::test::redis_or_skip({.persistent = true});
  if (!server)
    return;
  scratch_dir dir;
  auto files = write_split(dir);
  const std::string common = " --test " + files.test + " --no-csv -q --json --batch-size 1000";
  auto by_file = json_of(run_cli("stream --source file:" + files.train + common + " --save "
                                 + dir.file("file.rfm")));
  std::vector<rating_event> events;
  {
    auto t = read_ratings(files.train);
    REQUIRE(t.has_value());
    events = to_batch(t->ratings, t->users, t->items).ratings;
  }
  const std::size_t cut = 30'500;  // mid-batch: the trainer holds 500 entries read, not applied
  REQUIRE(events.size() > cut);
  redis_stream_address at{server->endpoint(), "restart"};
  auto first = publish_ratings({.at = at, .end_marker = false}, std::span(events).first(cut));
  REQUIRE(first.has_value());

  child_process trainer({"stream", "--source", "redis://" + server->address() + "/restart",
                         "--test", files.test, "--no-csv", "-q", "--json", "--batch-size", "1000",
                         "--save", dir.file("redis.rfm")},
                        dir.file("trainer.log"));
  // Wait until the group has delivered everything published so far, then kill the server.
  auto delivered = [&] {
    auto c = redis_client::connect(server->endpoint());
    if (!c)
      return false;
    auto g = c->command({"XINFO", "GROUPS", "restart"});
    if (!g || g->elements.empty())
      return false;
    const auto& fields = g->elements[0].elements;
    for (std::size_t k = 0; k + 1 < fields.size(); k += 2)
      if (fields[k].str == "last-delivered-id")
        return fields[k + 1].str == first->last_id;
    return false;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!delivered() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(delivered());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server->kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(server->restart());
  auto rest = publish_ratings({.at = at}, std::span(events).subspan(cut));
  REQUIRE(rest.has_value());

  const int status = trainer.wait(std::chrono::seconds(180));  // -1: still running
  const auto log = trainer.output();
  INFO(log);
  REQUIRE(status == 0);
  CHECK_THAT(log, Catch::Contains("connecting again") && Catch::Contains("connected again"));
  auto json = nlohmann::json::parse(log.substr(log.rfind("\n{") + 1));
  CHECK(json["train_ratings"] == files.train_size);
  CHECK(std::abs(json["rmse"].get<double>() - by_file["rmse"].get<double>()) <= 1e-6);
  auto file_model = load_model(dir.file("file.rfm"));
  REQUIRE(file_model.has_value());
  auto m = load_model(dir.file("redis.rfm"));
  REQUIRE(m.has_value());
  CHECK(m->mu_count() == files.train_size);  // each rating once
  require_same_model(*m, *file_model);
}

TEST_CASE("recflow publish and stream --source redis: an ACL user from an owner-only password "
          "file or the environment, an open file is refused",
          "[cli][redis]") {
  scratch_dir dir;
  auto open_file = dir.file("open.pw");
  std::ofstream(open_file) << "alice\ns3cret\n";
  ::chmod(open_file.c_str(), 0644);
  auto refused = run_cli("stream --source redis://127.0.0.1:1/s --redis-password-file " + open_file
                         + " --no-csv");
  CHECK(refused.status != 0);
  CHECK_THAT(refused.out, Catch::Contains(open_file) && Catch::Contains("chmod 600")
                            && !Catch::Contains("s3cret"));
  auto server = recflow::test::redis_or_skip({.args = {"--user", "default", "off", "--user",
                                                       "alice", "on", ">s3cret", "~ratings*",
                                                       "+@all"}});
  if (!server)
    return;
  auto pw = dir.file("alice.pw");
  std::ofstream(pw) << "alice\ns3cret\n";
  ::chmod(pw.c_str(), 0600);
  auto data = dir.file("small.csv");
  {
    std::ofstream f(data);
    for (int j = 0; j < 200; ++j)
      f << (j % 13 + 1) << ',' << (j % 7 + 1) << ',' << (j % 5 + 1) << ',' << (1000 + j) << '\n';
  }
  auto url = "redis://" + server->address() + "/ratings";
  auto pub = run_cli("publish --redis " + server->address() + " --stream ratings --data " + data
                     + " --redis-password-file " + pw + " --json");
  INFO(pub.out);
  REQUIRE(pub.status == 0);
  auto wrong = run_cli("stream --source " + url + " --no-csv --json",
                       "RECFLOW_REDIS_USER=alice RECFLOW_REDIS_PASSWORD=nope");
  CHECK(wrong.status != 0);
  CHECK_THAT(wrong.out, Catch::Contains("WRONGPASS") && Catch::Contains("'alice'")
                          && !Catch::Contains("nope"));
  auto by_env = run_cli("stream --source " + url + " --no-csv --json",
                        "RECFLOW_REDIS_USER=alice RECFLOW_REDIS_PASSWORD=s3cret");
  CHECK(json_of(by_env)["train_ratings"] == 200);
  auto by_file = run_cli("stream --source " + url + " --redis-group second --redis-password-file "
                         + pw + " --no-csv --json");
  CHECK(json_of(by_file)["train_ratings"] == 200);
}

TEST_CASE("recflow stream --redis-claim-idle: the entries a killed trainer left pending are "
          "claimed by another and applied once",
          "[cli][redis]") {
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  scratch_dir dir;
  auto files = write_split(dir);
  std::vector<rating_event> events;
  {
    auto t = read_ratings(files.train);
    REQUIRE(t.has_value());
    events = to_batch(t->ratings, t->users, t->items).ratings;
  }
  const std::size_t cut = 30'500;  // the first trainer holds 500 entries read, not applied
  redis_stream_address at{server->endpoint(), "shared"};
  auto first = publish_ratings({.at = at, .end_marker = false}, std::span(events).first(cut));
  REQUIRE(first.has_value());
  auto url = "redis://" + server->address() + "/shared";
  child_process a({"stream", "--source", url, "--redis-consumer", "a", "--test", files.test,
                   "--no-csv", "-q", "--batch-size", "1000"},
                  dir.file("a.log"));
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  auto group_field = [&](const std::string& name) -> redis_reply {
    auto g = c->command({"XINFO", "GROUPS", "shared"});
    if (!g || g->elements.empty())
      return {};
    const auto& fields = g->elements[0].elements;
    for (std::size_t k = 0; k + 1 < fields.size(); k += 2)
      if (fields[k].str == name)
        return fields[k + 1];
    return {};
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (group_field("last-delivered-id").str != first->last_id
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(group_field("last-delivered-id").str == first->last_id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its batches applied meanwhile
  a.signal(SIGKILL);
  REQUIRE(a.wait(std::chrono::seconds(60)) == 128 + SIGKILL);
  auto left = group_field("pending").integer_value;
  INFO("the killed trainer left " << left << " entries pending");
  REQUIRE(left >= 500);
  REQUIRE(publish_ratings({.at = at}, std::span(events).subspan(cut)).has_value());

  auto b = json_of(run_cli("stream --source " + url + " --redis-consumer b --redis-claim-idle 0.2"
                           + " --test " + files.test + " --no-csv -q --json --batch-size 1000"
                           + " --save " + dir.file("b.rfm")));
  // What the killed trainer acknowledged (applied) plus what the second applied: each once.
  auto acked_by_a = cut - std::size_t(left);
  CHECK(b["train_ratings"] == files.train_size - acked_by_a);
  CHECK(group_field("pending").integer_value == 0);
  auto m = load_model(dir.file("b.rfm"));
  REQUIRE(m.has_value());
  CHECK(m->mu_count() == files.train_size - acked_by_a);
}
