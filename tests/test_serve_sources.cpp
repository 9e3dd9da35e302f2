// `recflow stream --serve` with --source and with checkpoints: queries and posted ratings
// while a replay: source trains, and a served run stopped by SIGTERM whose checkpoint
// counts only the source's ratings, so --resume continues the source right after them.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "recflow/model/model_io.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/socket_test_util.hpp"
#include "tests/serve_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using json = nlohmann::json;

TEST_CASE("serve sources: stream --source replay: --serve answers while training and trains on "
          "posted ratings", "[serve][sources]") {
  test::scratch_dir dir;
  // 3,000 ratings one event second apart: at 1,000 event seconds per second, about 3 s.
  auto path = dir.file("ratings.tsv");
  {
    std::ofstream f(path);
    for (int k = 0; k < 3000; ++k)
      f << 1 + (k * 7) % 100 << '\t' << 1 + (k * 13) % 60 << '\t' << 1 + k % 5 << '\t'
        << 1'000'000 + k << '\n';
  }
  auto model = dir.file("m.rfm");
  test::child_process p({"stream", "--source", "replay:" + path, "--replay-speed", "1000",
                         "--batch-size", "100", "--rank", "8", "--no-csv", "--publish-interval",
                         "0", "--serve", "127.0.0.1:0", "--serve-linger", "-1", "--save", model,
                         "--json"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  auto posted = c.post("/ratings", R"({"user": 777777, "ratings": [{"item": 5, "rating": 5}, {"item": 7, "rating": 4}]})");
  CHECK(posted.status == 202);
  auto seen = test::follow_training(c);
  CHECK(seen.answered_while_training);
  CHECK(seen.monotonic);
  CHECK(seen.last == 30);  // 30 batches of 100; the posted ratings joined one of them
  auto m = c.get("/model").json();
  CHECK(m["version"] == 30);
  // The final model excludes what user 1 rated in the stream from its top-N.
  auto rec = c.get("/recommend?user=1&n=60").json();
  CHECK(rec["items"].size() < 60);
  CHECK(p.stop() == 0);
  auto out = test::json_summary(p.output());
  REQUIRE(out.is_object());
  CHECK(out["batches"] == 30);
  CHECK(out["train_ratings"] == 3000);  // the source's ratings
  CHECK(out["posted_ratings"] == 2);    // trained on too
  auto saved = load_model(model);
  REQUIRE(saved);
  CHECK(saved->users().find(777777) != id_map::npos);
  CHECK(saved->mu_count() == 3002);
}

TEST_CASE("serve sources: a served run with checkpoints stopped by SIGTERM counts only source "
          "ratings in its checkpoint, and --resume --serve continues right after them",
          "[serve][sources]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-latest-small/ratings.csv";
  auto ck = dir.file("ck");
  std::vector<std::string> args{"stream", "--data", data, "--split", "0.8", "--rank", "50",
                                "--batch-size", "50", "--no-csv", "--checkpoint-dir", ck,
                                "--checkpoint-every", "5", "--publish-interval", "0", "--serve",
                                "127.0.0.1:0", "--json"};
  test::child_process p(args, dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  auto v0 = c.get("/health").json()["version"].get<std::uint64_t>();
  auto posted = c.post("/ratings", R"({"user": 777777, "ratings": [{"item": 1, "rating": 5}, {"item": 50, "rating": 4}]})");
  CHECK(posted.status == 202);
  // The posted ratings join the batch after the one routed when they arrived.
  for (int k = 0; k < 2000 && c.get("/health").json()["version"].get<std::uint64_t>() < v0 + 4; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(p.stop() == 0);  // SIGTERM: ends at a batch boundary and writes the final checkpoint
  auto first = test::json_summary(p.output());
  REQUIRE(first.is_object());
  auto b = first["batches"].get<std::uint64_t>();
  REQUIRE(b < 1614);  // 80,669 ratings in batches of 50: the stream did not end by itself
  CHECK(first["posted_ratings"] == 2);
  CHECK(first["train_ratings"] == b * 50);  // the source's ratings only, not the 2 posted
  CHECK(first["checkpoints_written"].get<int>() >= 1);

  // Resume, serving, for 10 more batches: the source continues after its b * 50 ratings.
  auto rest = test::run_cli("stream --data " + data + " --split 0.8 --rank 50 --batch-size 50 "
                            "--no-csv --checkpoint-dir " + ck + " --resume --max-batches 10 "
                            "--serve 127.0.0.1:0 --serve-linger 0 --json");
  INFO(rest.out);
  CHECK(rest.status == 0);
  CHECK(rest.out.find("after " + std::to_string(b) + " batches (" + std::to_string(b * 50)
                      + " ratings)") != std::string::npos);
  CHECK(rest.out.find("serving on http://127.0.0.1:") != std::string::npos);
  auto second = test::json_summary(rest.out);
  REQUIRE(second.is_object());
  CHECK(second["batches"] == b + 10);
  CHECK(second["batches_this_run"] == 10);
  CHECK(second["train_ratings"] == (b + 10) * 50);
  CHECK(second["posted_ratings"] == 0);
}

TEST_CASE("serve sources: --serve is refused with --nodes and with the reference engine",
          "[serve][sources]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-100k/u.data";
  auto nodes = test::run_cli("stream --data " + data + " --serve 127.0.0.1:0 --nodes 127.0.0.1:1 "
                             "--no-csv -q");
  CHECK(nodes.status == 2);
  CHECK(nodes.out.find("--nodes") != std::string::npos);
  auto with_ck = test::run_cli("stream --data " + data + " --checkpoint-dir " + dir.file("ck")
                               + " --serve 127.0.0.1:0 --nodes 127.0.0.1:1 --no-csv -q");
  CHECK(with_ck.status == 2);
  auto reference = test::run_cli("stream --source file:" + data + " --engine reference --serve "
                                 "127.0.0.1:0 --no-csv -q");
  CHECK(reference.status == 2);
  CHECK(reference.out.find("--engine local") != std::string::npos);
}

namespace {

/// Serves `text` to the first client on a free port of 127.0.0.1, then keeps the
/// connection open and quiet until the client leaves or the server is destroyed.
struct quiet_line_server {
  int fd = -1;
  int port = 0;
  std::atomic<int> client{-1};
  std::thread t;
  explicit quiet_line_server(std::string text) {
    fd = test::listen_on_loopback(port);
    t = std::thread([this, text = std::move(text)] {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0)
        return;
      client.store(c);
      std::size_t at = 0;
      while (at < text.size()) {
        auto n = ::send(c, text.data() + at, text.size() - at, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        at += std::size_t(n);
      }
      char byte;
      while (::recv(c, &byte, 1, 0) > 0) {  // quiet until the client closes
      }
    });
  }
  ~quiet_line_server() {
    ::shutdown(fd, SHUT_RDWR);
    if (int c = client.load(); c >= 0)
      ::shutdown(c, SHUT_RDWR);
    t.join();
    if (int c = client.load(); c >= 0)
      ::close(c);
    ::close(fd);
  }
};

}  // namespace

TEST_CASE("serve sources: a quiet tcp:// source keeps the stream waiting after SIGTERM, and a "
          "second signal exits at once and the checkpoints written stay", "[serve][sources]") {
  test::scratch_dir dir;
  std::string text;
  for (int k = 0; k < 250; ++k)
    text += std::to_string(1 + k % 40) + "," + std::to_string(1 + k % 30) + "," + std::to_string(1 + k % 5) + "\n";
  quiet_line_server server(text);
  auto ck = dir.file("ck");
  test::child_process p({"stream", "--source", "tcp://127.0.0.1:" + std::to_string(server.port),
                         "--batch-size", "100", "--rank", "4", "--no-csv", "--checkpoint-dir", ck,
                         "--checkpoint-every", "1", "--publish-interval", "0", "--serve",
                         "127.0.0.1:0", "--json"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  for (int k = 0; k < 1000 && c.get("/health").json()["version"] != 2; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(c.get("/health").json()["version"] == 2);  // 200 of the 250 ratings: the third batch waits
  CHECK(c.get("/recommend?user=1&n=3").status == 200);
  // Let the engine write the checkpoint and ask the source for the third batch.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  p.signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The stream ends at a batch boundary and the source sends no batch: still training,
  // still serving.
  auto h = c.get("/health").json();
  CHECK(h["training"] == true);
  CHECK(h["version"] == 2);
  p.signal(SIGTERM);
  auto status = p.wait(std::chrono::seconds(10));
  auto out = p.output();
  INFO(out);
  CHECK(status == 130);
  CHECK(out.find("second signal") != std::string::npos);
  std::size_t checkpoints = 0;
  for (const auto& e : std::filesystem::directory_iterator(ck))
    checkpoints += e.path().extension() == ".rfm";
  CHECK(checkpoints == 2);  // after batches 1 and 2
}
