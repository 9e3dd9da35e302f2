// Serving: request parsing, the query service's routes (no sockets), the HTTP server on
// 127.0.0.1 with a Beast client, and the `recflow serve` / `stream --serve` commands.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "recflow/model/model_io.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/serve_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace recflow::serve;
using json = nlohmann::json;

namespace {

json body(const answer& a) { return json::parse(a.body); }

}  // namespace

TEST_CASE("serve requests: targets, ids and listen addresses parse strictly", "[serve]") {
  auto t = target::parse("/recommend?user=12&n=3&items=1%2C2,3&x");
  REQUIRE(t);
  CHECK(t->path == "/recommend");
  CHECK(t->get("user") == "12");
  CHECK(t->get("items") == "1,2,3");
  CHECK(t->get("x") == "");
  CHECK_FALSE(t->get("y"));
  CHECK_FALSE(target::parse("/a?b=%zz"));
  CHECK_FALSE(target::parse("/a?b=%4"));
  CHECK(parse_int64("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
  auto bad = GENERATE(as<std::string>{}, "", "-", "1.5", " 1", "1 ", "9223372036854775808", "0x10", "1e3");
  CHECK_FALSE(parse_int64(bad));
  CHECK(parse_id_list("1,2,3", 10).value() == std::vector<std::int64_t>{1, 2, 3});
  CHECK_FALSE(parse_id_list("1,,3", 10));
  CHECK_FALSE(parse_id_list("1,2,3", 2));
  auto a = parse_listen("127.0.0.1:0");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 0);
  CHECK(parse_listen("[::1]:8080").value().host == "::1");
  auto bad_listen = GENERATE(as<std::string>{}, "127.0.0.1", ":80", "host:", "host:65536", "host:-1", "host:x");
  CHECK_FALSE(parse_listen(bad_listen));
}

TEST_CASE("serve routes: predict, recommend, similar answer from the snapshot with its version", "[serve]") {
  query_service svc;
  CHECK(svc.handle("GET", "/predict?user=1&item=10", "").status == 503);  // nothing published
  svc.publish(test::tiny_model(), 7);
  auto p = body(svc.handle("GET", "/predict?user=1&item=11", ""));
  CHECK(p["version"] == 7);
  CHECK(p["source"] == "full");
  CHECK(p["prediction"].get<double>() == Approx(3.0 + 0.1 - 0.2 + 2.0));
  CHECK(body(svc.handle("GET", "/predict?user=99&item=11", ""))["source"] == "item_bias");
  CHECK(body(svc.handle("GET", "/predict?user=1&item=99", ""))["source"] == "user_bias");

  auto r = body(svc.handle("GET", "/recommend?user=1&n=5", ""));
  CHECK(r["source"] == "model");
  REQUIRE(r["items"].size() == 2);  // 10 rated, 13 unknown
  CHECK(r["items"][0]["item"] == 11);
  CHECK(r["items"][1]["item"] == 12);
  auto all = body(svc.handle("GET", "/recommend?user=1&n=5&include_rated=true", ""));
  CHECK(all["items"].size() == 3);
  auto filtered = body(svc.handle("GET", "/recommend?user=1&items=12,13,10,777", ""));
  REQUIRE(filtered["items"].size() == 1);
  CHECK(filtered["items"][0]["item"] == 12);
  auto cold = body(svc.handle("GET", "/recommend?user=99&n=1", ""));
  CHECK(cold["source"] == "cold_start");
  CHECK(cold["items"][0]["item"] == 10);

  auto s = body(svc.handle("GET", "/similar?item=10&n=2", ""));
  CHECK(s["version"] == 7);
  REQUIRE(s["items"].size() == 2);
  CHECK(s["items"][0]["item"] == 11);
  CHECK(svc.handle("GET", "/similar?item=13", "").status == 404);

  auto h = body(svc.handle("GET", "/health", ""));
  CHECK(h["status"] == "ok");
  auto m = body(svc.handle("GET", "/model", ""));
  CHECK(m["rank"] == 2);
  CHECK(m["items"] == 3);
  CHECK(m["version"] == 7);
}

TEST_CASE("serve routes: bad requests get a 4xx with a JSON error", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  struct bad { const char* method; const char* target; int status; };
  auto b = GENERATE(bad{"GET", "/nope", 404}, bad{"GET", "/", 404},
                    bad{"POST", "/predict?user=1&item=1", 405}, bad{"GET", "/ratings", 405},
                    bad{"DELETE", "/health", 405}, bad{"GET", "/predict?user=1", 400},
                    bad{"GET", "/predict?item=1", 400}, bad{"GET", "/predict?user=a&item=1", 400},
                    bad{"GET", "/predict?user=1&item=99999999999999999999", 400},
                    bad{"GET", "/recommend?user=1&n=0", 400}, bad{"GET", "/recommend?user=1&n=1001", 400},
                    bad{"GET", "/recommend?user=1&n=-3", 400}, bad{"GET", "/recommend?n=3", 400},
                    bad{"GET", "/recommend?user=1&items=1,x", 400},
                    bad{"GET", "/recommend?user=1&include_rated=maybe", 400},
                    bad{"GET", "/similar?n=3", 400}, bad{"GET", "/similar?item=10&n=abc", 400},
                    bad{"GET", "/predict?user=%G1&item=1", 400},
                    bad{"GET", "/predict?user=%FF%FE&item=1", 400}, bad{"GET", "/%C3%28", 404});
  INFO(b.method << ' ' << b.target);
  auto a = svc.handle(b.method, b.target, "");
  CHECK(a.status == b.status);
  auto j = json::parse(a.body, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["error"].is_string());
}

TEST_CASE("serve ratings: posts are validated, new users folded in at once, sent to the sink", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 3);
  std::vector<rating_event> sunk;
  auto bad = GENERATE(as<std::string>{}, "", "{", "[]", "{\"ratings\": []}", "{\"ratings\": 5}", "17",
                      "{\"user\": 5, \"ratings\": [{\"item\": 10}]}",
                      "{\"user\": 5, \"ratings\": [{\"item\": 10, \"rating\": 9}]}",
                      "{\"user\": 5, \"ratings\": [{\"item\": 10, \"rating\": \"4\"}]}",
                      "{\"user\": \"5\", \"ratings\": [{\"item\": 10, \"rating\": 4}]}",
                      "{\"user\": 1.5, \"item\": 10, \"rating\": 4}",
                      "{\"user\": 18446744073709551615, \"item\": 10, \"rating\": 4}",
                      "{\"user\": 5, \"item\": 10, \"rating\": 4, \"timestamp\": \"now\"}",
                      "[{\"user\": 5, \"item\": 10, \"rating\": 4}, 3]");
  INFO(bad);
  auto a = svc.handle("POST", "/ratings", bad);
  CHECK(a.status == 400);
  CHECK(json::parse(a.body)["error"].is_string());
  CHECK(body(svc.handle("GET", "/model", ""))["posted_users"] == 0);
  auto counted = body(svc.handle("GET", "/model", ""))["requests"];
  CHECK(counted["4xx"] == 1);
  CHECK(counted["5xx"] == 0);

  svc.set_rating_sink([&](std::vector<rating_event> rs) { sunk.insert(sunk.end(), rs.begin(), rs.end()); });
  // A new user (5) rating items 11 and 12 high: folded in, personal at once.
  auto ok = svc.handle("POST", "/ratings",
                       R"({"user": 5, "ratings": [{"item": 11, "rating": 5}, {"item": 12, "rating": 2, "timestamp": 99}]})");
  CHECK(ok.status == 202);
  auto j = json::parse(ok.body);
  CHECK(j["accepted"] == 2);
  CHECK(j["queued_for_training"] == true);
  CHECK(j["users"][0]["folded_in"] == true);
  REQUIRE(sunk.size() == 2);
  CHECK(sunk[1].timestamp == 99);
  CHECK(sunk[0].user == 5);
  auto p = body(svc.handle("GET", "/predict?user=5&item=10", ""));
  CHECK(p["source"] == "fold_in");
  auto r = body(svc.handle("GET", "/recommend?user=5&n=5", ""));
  CHECK(r["source"] == "fold_in");
  REQUIRE(r["items"].size() == 1);  // 11 and 12 rated, 13 unknown
  CHECK(r["items"][0]["item"] == 10);
  // A known user's posted items are excluded from their list until the model trains on them.
  CHECK(svc.handle("POST", "/ratings", R"([{"user": 1, "item": 11, "rating": 4}])").status == 202);
  auto r1 = body(svc.handle("GET", "/recommend?user=1&n=5", ""));
  CHECK(r1["source"] == "model");
  REQUIRE(r1["items"].size() == 1);
  CHECK(r1["items"][0]["item"] == 12);
  // A new snapshot keeps the folded user (re-solved against it).
  svc.publish(test::tiny_model(), 4);
  auto p4 = body(svc.handle("GET", "/predict?user=5&item=10", ""));
  CHECK(p4["version"] == 4);
  CHECK(p4["prediction"].get<double>() == Approx(p["prediction"].get<double>()));
  CHECK(body(svc.handle("GET", "/model", ""))["folded_users"] == 1);
}

TEST_CASE("serve http: routes, malformed and oversized requests on a real server", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 2);
  auto server = http_server::start(svc, {.host = "127.0.0.1", .port = 0, .threads = 2, .max_body = 4096});
  REQUIRE(server);
  auto port = (*server)->port();
  REQUIRE(port != 0);
  {
    test::http_client c(port);
    auto h = c.get("/health");
    CHECK(h.status == 200);
    CHECK(h.json()["status"] == "ok");
    auto p = c.get("/predict?user=1&item=11");  // same connection: keep-alive
    CHECK(p.status == 200);
    CHECK(p.json()["version"] == 2);
    CHECK(c.get("/recommend?user=1&n=2").json()["items"].size() == 2);
    CHECK(c.get("/similar?item=10&n=1").json()["items"][0]["item"] == 11);
    CHECK(c.get("/predict?user=1").status == 400);
    CHECK(c.get("/zzz").status == 404);
    auto posted = c.post("/ratings", R"({"user": 8, "item": 10, "rating": 4.5})");
    CHECK(posted.status == 200);  // no stream: folded in only
    CHECK(posted.json()["queued_for_training"] == false);
  }
  {
    test::http_client c(port);
    auto out = c.raw("THIS IS NOT HTTP\r\n\r\n");
    CHECK(out.find("400") != std::string::npos);
  }
  {
    test::http_client c(port);
    auto out = c.raw("POST /ratings HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'a'));
    CHECK(out.find("413") != std::string::npos);
  }
  {
    test::http_client c(port);  // chunked, oversized: also 413
    std::string chunk(3000, 'b');
    auto out = c.raw("POST /ratings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n" + chunk
                     + "\r\nbb8\r\n" + chunk + "\r\n0\r\n\r\n");
    CHECK(out.find("413") != std::string::npos);
  }
  // Still serving, to many clients at once.
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      test::http_client c(port);
      for (int k = 0; k < 50; ++k)
        ok += c.get("/recommend?user=2&n=3").status == 200;
    });
  for (auto& t : clients)
    t.join();
  CHECK(ok == 400);
  (*server)->stop();
  CHECK(svc.answered(200) >= 400);
  // Port taken: a clear error, not a crash.
  auto again = http_server::start(svc, {.host = "127.0.0.1", .port = 0});
  REQUIRE(again);
  auto clash = http_server::start(svc, {.host = "127.0.0.1", .port = (*again)->port()});
  CHECK_FALSE(clash);
}

TEST_CASE("serve cli: recflow serve answers on the port it prints and stops on SIGTERM", "[serve][cli]") {
  test::scratch_dir dir;
  auto model_path = dir.file("m.rfm");
  auto saved = save_model(*test::tiny_model(), model_path);
  REQUIRE(saved);
  test::child_process p({"serve", "--model", model_path, "--listen", "127.0.0.1:0", "--model-paths"}, dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  CHECK(c.get("/health").status == 200);
  auto m = c.get("/model").json();
  CHECK(m["rank"] == 2);
  CHECK(m["metadata"]["file"] == model_path);
  CHECK(c.get("/recommend?user=1&n=1").json()["items"][0]["item"] == 11);
  CHECK(p.stop() == 0);
  CHECK(p.output().find("stopped:") != std::string::npos);
  // Bad usage and a missing model fail cleanly.
  CHECK(test::run_cli("serve --model " + model_path + " --listen nowhere").status == 2);
  auto missing = test::run_cli("serve --model " + dir.file("none.rfm") + " --listen 127.0.0.1:0");
  CHECK(missing.status == 1);
  CHECK(missing.out.find("none.rfm") != std::string::npos);
}

TEST_CASE("serve cli: stream --serve answers while training and trains on posted ratings", "[serve][cli]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-100k/u.data";
  test::child_process p({"stream", "--data", data, "--split", "0.8", "--rank", "10", "--batch-size", "200",
                         "--no-csv", "--serve", "127.0.0.1:0", "--serve-linger", "-1", "--json"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  auto posted = c.post("/ratings", R"({"user": 777777, "ratings": [{"item": 50, "rating": 5}, {"item": 181, "rating": 5}]})");
  CHECK(posted.status == 202);
  std::uint64_t last = 0;
  bool monotonic = true;
  for (;;) {  // versions never go back; the stream ends by itself
    auto h = c.get("/health").json();
    auto v = h["version"].get<std::uint64_t>();
    monotonic = monotonic && v >= last;
    last = v;
    if (!h["training"].get<bool>())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(monotonic);
  CHECK(last == 400);  // 80,000 ratings in batches of 200 (+2 posted, in an existing batch)
  auto m = c.get("/model").json();
  CHECK(m["ratings_seen"] == 80002);
  CHECK(c.get("/recommend?user=777777&n=3").json()["source"] == "fold_in");
  CHECK(c.get("/predict?user=1&item=50").json()["source"] == "full");
  CHECK(p.stop() == 0);
  auto out = p.output();
  CHECK(out.find("\"batches\":400") != std::string::npos);
}

TEST_CASE("serve cli: SIGTERM during stream --serve ends the stream at a batch boundary", "[serve][cli]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-latest-small/ratings.csv";
  auto model = dir.file("early.rfm");
  test::child_process p({"stream", "--data", data, "--split", "0.8", "--rank", "50", "--batch-size", "50",
                         "--no-csv", "--serve", "127.0.0.1:0", "--save", model, "--json"},
                        dir.file("log"));
  REQUIRE(p.wait_for_port() != 0);
  CHECK(p.stop() == 0);  // the run finishes as usual: final metrics, the model, the JSON line
  auto out = p.output();
  INFO(out);
  auto at = out.find("\"batches\":");
  REQUIRE(at != std::string::npos);
  auto batches = std::stoul(out.substr(at + 10));
  CHECK(batches < 1614);  // 80,669 ratings in batches of 50
  auto saved = load_model(model);
  CHECK(saved);
  CHECK(test::run_cli("stream --data " + data + " --engine reference --serve 127.0.0.1:0 --no-csv -q").status == 2);
}
