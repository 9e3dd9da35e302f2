// `recflow stream --implicit --serve`: queries while a replay: source of events trains,
// events POSTed to /ratings trained on in the next micro-batch, the implicit model's
// metadata on GET /model, and a table run serving its final model.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "recflow/model/model_io.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/serve_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using json = nlohmann::json;

TEST_CASE("cli: stream --implicit --serve answers while a source trains and trains on posted "
          "events", "[cli][implicit][serve]") {
  test::scratch_dir dir;
  // 3,000 events one event second apart: at 1,000 event seconds per second, about 3 s.
  auto path = dir.file("events.tsv");
  {
    std::ofstream f(path);
    for (int k = 0; k < 3000; ++k)
      f << 1 + (k * 7) % 100 << '\t' << 1 + (k * 13) % 60 << '\t' << 1 + k % 3 << '\t'
        << 1'000'000 + k << '\n';
  }
  auto model = dir.file("m.rfm");
  test::child_process p({"stream", "--implicit", "--source", "replay:" + path, "--replay-speed",
                         "1000", "--batch-size", "100", "--rank", "8", "--no-csv",
                         "--publish-interval", "0", "--serve", "127.0.0.1:0", "--serve-linger",
                         "-1", "--save", model, "--json"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  auto info = c.get("/model").json();
  CHECK(info["metadata"]["trainer"] == "implicit-stream");
  CHECK_FALSE(info["metadata"].contains("hr_at_10"));
  // An event's weight must be positive: the implicit model refuses 0.
  CHECK(c.post("/ratings", R"({"user": 777778, "ratings": [{"item": 5, "rating": 0}]})").status == 400);
  auto posted = c.post("/ratings", R"({"user": 777777, "ratings": [{"item": 5, "rating": 2}, {"item": 7, "rating": 1}]})");
  CHECK(posted.status == 202);
  auto seen = test::follow_training(c);
  CHECK(seen.answered_while_training);
  CHECK(seen.monotonic);
  CHECK(seen.last == 30);  // 30 batches of 100; the posted events joined one of them
  // The final model excludes what user 1 has events on from its top-N.
  auto rec = c.get("/recommend?user=1&n=60").json();
  CHECK(rec["items"].size() < 60);
  CHECK(rec["source"] == "model");
  CHECK(p.stop() == 0);
  auto out = test::json_summary(p.output());
  REQUIRE(out.is_object());
  CHECK(out["batches"] == 30);
  CHECK(out["train_events"] == 3002);  // the source's and the posted ones
  auto saved = load_model(model);
  REQUIRE(saved);
  auto u = saved->users().find(777777);
  REQUIRE(u != id_map::npos);
  CHECK(saved->user_count()[u] == 2);
}

TEST_CASE("cli: stream --implicit --serve on a table serves the final model with fold-in",
          "[cli][implicit][serve]") {
  test::scratch_dir dir;
  auto path = dir.file("events.tsv");
  {
    std::ofstream f(path);
    for (int k = 0; k < 2000; ++k)
      f << 1 + (k * 7) % 100 << '\t' << 1 + (k * 13) % 60 << '\t' << 1 << '\t' << 1'000'000 + k
        << '\n';
  }
  test::child_process p({"stream", "--implicit", "--data", path, "--batch-size", "100",
                         "--rank", "8", "--no-csv", "--serve", "127.0.0.1:0", "--serve-linger",
                         "-1", "--json"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  json h;
  for (int k = 0; k < 3000; ++k) {
    h = c.get("/health").json();
    if (h.is_object() && !h["training"].get<bool>())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(h.is_object());
  CHECK_FALSE(h["training"].get<bool>());
  auto out = [&] { return test::json_summary(p.output()); };
  // The final model, as the last batch left it; a new user is folded in from events.
  auto rec = c.get("/recommend?user=3&n=5");
  CHECK(rec.status == 200);
  auto posted = c.post("/ratings", R"({"user": 555555, "ratings": [{"item": 5, "rating": 1}, {"item": 18, "rating": 1}]})");
  CHECK(posted.status == 200);  // the stream is over: folded in only
  auto folded = c.get("/recommend?user=555555&n=3").json();
  CHECK(folded["source"] == "fold_in");
  CHECK(p.stop() == 0);
  auto j = out();
  REQUIRE(j.is_object());
  CHECK(h["version"] == j["batches"]);
}
