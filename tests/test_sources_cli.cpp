// The real `recflow` binary on live sources: publish to a real redis-server and stream
// from it, kill the trainer and resume from its checkpoint, dead letters, and the
// checkpoint fallback when the newest one is corrupt.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
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
#include "test_util.hpp"

using namespace recflow;
using recflow::test::run_cli;
using recflow::test::scratch_dir;

namespace {

/// ml-latest-small split 80/20 (seed 42), the training part shuffled (seed 42), written
/// as CSV files: the stream order is the file order, for the file source and for Redis.
struct split_files {
  std::string train, test;
  std::size_t train_size = 0;
};

split_files write_split(const scratch_dir& dir) {
  auto table = read_ratings(recflow::test::data_dir() + "/ml-latest-small/ratings.csv");
  REQUIRE(table.has_value());
  auto parts = random_split(table->ratings, 0.8, 42);
  order_ratings(parts.train, stream_order::random, 42);
  auto write = [&](const std::string& path, const std::vector<rating>& rs) {
    std::ofstream f(path);
    for (const auto& r : rs) {
      char v[32];
      auto [end, ec] = std::to_chars(v, v + sizeof v, r.value);
      (void)ec;
      f << table->users.external(r.user) << ',' << table->items.external(r.item) << ','
        << std::string_view(v, std::size_t(end - v)) << ',' << r.timestamp << '\n';
    }
  };
  split_files s{dir.file("train.csv"), dir.file("test.csv"), parts.train.size()};
  write(s.train, parts.train);
  write(s.test, parts.test);
  return s;
}

nlohmann::json json_of(const recflow::test::run_result& r) {
  INFO(r.out);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.last_line);
}

/// Same users, items, mean and counts, and parameters equal within 1e-9 relative,
/// matched by external id.
void require_same_model(const factor_model& a, const factor_model& b) {
  REQUIRE(a.n_users() == b.n_users());
  REQUIRE(a.n_items() == b.n_items());
  CHECK(a.mu_count() == b.mu_count());
  CHECK(a.mu() == Approx(b.mu()).epsilon(1e-12));
  double worst = 0.0;
  auto rel = [&](double x, double y) {
    worst = std::max(worst, std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-12}));
  };
  for (index_t u = 0; u < a.n_users(); ++u) {
    auto v = b.users().find(a.users().external(u));
    REQUIRE(v != id_map::npos);
    rel(a.user_bias()[u], b.user_bias()[v]);
    for (int k = 0; k < a.rank(); ++k)
      rel(a.U().row(u)[k], b.U().row(v)[k]);
  }
  for (index_t i = 0; i < a.n_items(); ++i) {
    auto j = b.items().find(a.items().external(i));
    REQUIRE(j != id_map::npos);
    rel(a.item_bias()[i], b.item_bias()[j]);
    for (int k = 0; k < a.rank(); ++k)
      rel(a.P().row(i)[k], b.P().row(j)[k]);
  }
  INFO("largest relative difference " << worst);
  CHECK(worst <= 1e-9);
}

/// Runs the CLI as a child process (stdout and stderr to `log`); returns its pid.
pid_t spawn_cli(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    ::dup2(STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(RECFLOW_CLI_PATH)};
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(RECFLOW_CLI_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Kills a child on scope exit unless it was reaped.
struct child_guard {
  pid_t pid = -1;
  ~child_guard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

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
  child_guard trainer{spawn_cli(args, dir.file("killed.log"))};
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (list_checkpoints(ckpt).size() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(list_checkpoints(ckpt).size() >= 2);
  ::kill(trainer.pid, SIGKILL);
  int status = 0;
  ::waitpid(trainer.pid, &status, 0);
  trainer.pid = -1;
  CHECK(WIFSIGNALED(status));
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
  child_guard server{spawn_cli({"publish", "--tcp", "127.0.0.1:" + port, "--data", d + "u1.base"},
                               dir.file("serve.log"))};
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto serving = [&] {
    std::ifstream f(dir.file("serve.log"));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return s.find("serving") != std::string::npos;
  };
  while (!serving() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(serving());
  auto tcp = json_of(run_cli("stream --source tcp://127.0.0.1:" + port + " --test " + d
                             + "u1.test --no-csv -q --json"));
  int status = -1;
  ::waitpid(server.pid, &status, 0);
  server.pid = -1;
  CHECK(WIFEXITED(status));
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

  child_guard trainer{spawn_cli({"stream", "--source", "redis://" + server->address() + "/restart",
                                 "--test", files.test, "--no-csv", "-q", "--json", "--batch-size",
                                 "1000", "--save", dir.file("redis.rfm")},
                                dir.file("trainer.log"))};
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

  int status = -1;
  until = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(trainer.pid, &status, WNOHANG) == trainer.pid) {
      trainer.pid = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream log_file(dir.file("trainer.log"));
  std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  INFO(log);
  REQUIRE(trainer.pid == -1);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
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
  child_guard a{spawn_cli({"stream", "--source", url, "--redis-consumer", "a", "--test",
                           files.test, "--no-csv", "-q", "--batch-size", "1000"},
                          dir.file("a.log"))};
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
  ::kill(a.pid, SIGKILL);
  ::waitpid(a.pid, nullptr, 0);
  a.pid = -1;
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
