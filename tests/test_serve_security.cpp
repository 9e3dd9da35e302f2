// The HTTP surface under a hostile client: the bearer token (401), the Host allow-list
// (403), JSON-only POSTs (415), paths kept out of GET /model, and the same access options
// on every command's servers. What a client can grow or hold is test_serve_limits.cpp.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "recflow/model/model_io.hpp"
#include "recflow/serve/http_access.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/serve_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace recflow::serve;
using json = nlohmann::json;
using recflow::test::post_of;

TEST_CASE("serve access: tokens compare in full, Host headers reduce to their name", "[serve]") {
  CHECK(constant_time_equal("s3cret", "s3cret"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3creT"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3cret2"));
  CHECK_FALSE(constant_time_equal("", "x"));
  CHECK(host_name("LocalHost:8080") == "localhost");
  CHECK(host_name("[::1]:8080") == "::1");
  CHECK(host_name("::1") == "::1");
  CHECK(host_name("example.com.") == "example.com");
  http_access a{.token = "t0k", .check_host = true};
  auto check = [&](request_head r) { return check_access(a, r, "127.0.0.1", "127.0.0.1"); };
  CHECK_FALSE(check({.method = "GET", .host = "localhost:80"}));
  CHECK_FALSE(check({.method = "GET", .host = "[::1]:80"}));
  CHECK(check({.method = "GET", .host = "rebound.example:80"})->status == 403);
  CHECK(check({.method = "POST", .host = "127.0.0.1", .content_type = "application/json"})->status == 401);
  CHECK(check({.method = "POST", .host = "127.0.0.1", .authorization = "Bearer t0k",
               .content_type = "text/plain"})->status == 415);
  CHECK_FALSE(check({.method = "POST", .host = "127.0.0.1", .authorization = "bearer  t0k ",
                     .content_type = "application/json; charset=utf-8"}));
  // The address the connection arrived on, as an address, is always allowed.
  CHECK_FALSE(check_access(a, {.method = "GET", .host = "10.1.2.3:80"}, "0.0.0.0", "10.1.2.3"));
  a.allowed_hosts = {"recs.example"};
  CHECK_FALSE(check({.method = "GET", .host = "recs.example:8080"}));
  CHECK(check({.method = "GET", .host = "localhost"})->status == 403);  // the list replaces the defaults
  a.allowed_hosts = {"*"};
  CHECK_FALSE(check({.method = "GET", .host = "anything.example"}));
}

TEST_CASE("serve security: writes need the bearer token (401 with WWW-Authenticate), reads too when asked",
          "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  bool reads = GENERATE(false, true);
  http_options o{.host = "127.0.0.1", .port = 0};
  o.access.token = "s3cret-token";
  o.access.token_reads = reads;
  auto server = http_server::start(svc, o);
  REQUIRE(server);
  test::http_client c((*server)->port());
  auto no = c.post("/ratings", post_of(1000));
  CHECK(no.status == 401);
  CHECK(no.header("www-authenticate").rfind("Bearer", 0) == 0);
  c.set_header("Authorization", "Bearer wrong-token!");
  CHECK(c.post("/ratings", post_of(1000)).status == 401);
  CHECK(c.get("/health").status == (reads ? 401 : 200));
  c.set_header("Authorization", "Bearer s3cret-token");
  CHECK(c.post("/ratings", post_of(1000)).status == 200);
  CHECK(c.get("/health").status == 200);
  CHECK(svc.posted_ratings() == 1);  // only the authorised post got through
}

TEST_CASE("serve security: a foreign Host gets 403, a text/plain POST 415", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  http_options o{.host = "127.0.0.1", .port = 0};
  o.access.check_host = true;
  auto server = http_server::start(svc, o);
  REQUIRE(server);
  auto port = (*server)->port();
  test::http_client c(port);
  CHECK(c.get("/health").status == 200);  // Host: 127.0.0.1
  c.set_header("Host", "localhost:" + std::to_string(port));
  CHECK(c.get("/health").status == 200);
  c.set_header("Host", "attacker.example:" + std::to_string(port));  // DNS rebinding
  CHECK(c.get("/health").status == 403);
  CHECK(c.post("/ratings", post_of(1000)).status == 403);
  c.set_header("Host", "127.0.0.1");
  c.set_header("Content-Type", "text/plain");  // a "simple" cross-site POST
  auto plain = c.post("/ratings", post_of(1000));
  CHECK(plain.status == 415);
  CHECK(plain.json()["error"].get<std::string>().find("application/json") != std::string::npos);
  CHECK(svc.posted_ratings() == 0);
  c.set_header("Content-Type", "application/json");
  CHECK(c.post("/ratings", post_of(1000)).status == 200);
}

TEST_CASE("serve security: GET /model names no file unless asked", "[serve]") {
  std::vector<std::pair<std::string, std::string>> meta = {
    {"file", "/srv/secret/models/m.rfm"}, {"data", "/home/me/ratings.csv"}, {"rank", "2"}};
  bool show = GENERATE(false, true);
  service_options o;
  o.show_paths = show;
  query_service svc(o, meta);
  svc.publish(test::tiny_model(), 1);
  auto a = svc.handle("GET", "/model", "");
  REQUIRE(a.status == 200);
  CHECK((a.body.find("/srv/secret") != std::string::npos) == show);
  CHECK((a.body.find("/home/me") != std::string::npos) == show);
  CHECK(json::parse(a.body)["metadata"]["rank"] == "2");
}

TEST_CASE("serve cli: --token-file guards POST /ratings of recflow serve, a bad token file is refused",
          "[serve][cli]") {
  test::scratch_dir dir;
  auto model_path = dir.file("m.rfm");
  REQUIRE(save_model(*test::tiny_model(), model_path));
  auto token_path = dir.file("token");
  std::ofstream(token_path) << "  tok-123456  \n";
  test::child_process p({"serve", "--model", model_path, "--listen", "127.0.0.1:0", "--token-file",
                         token_path, "--max-posted-users", "10"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  REQUIRE(port != 0);
  test::http_client c(port);
  CHECK(c.post("/ratings", post_of(1000)).status == 401);
  CHECK(c.get("/model").status == 200);
  CHECK(c.get("/model").body.find(model_path) == std::string::npos);  // no --model-paths
  c.set_header("Authorization", "Bearer tok-123456");
  CHECK(c.post("/ratings", post_of(1000)).status == 200);
  c.set_header("Host", "elsewhere.example");
  CHECK(c.get("/health").status == 403);
  p.stop();
  auto missing = test::run_cli("serve --model " + model_path + " --listen 127.0.0.1:0 --token-file "
                               + dir.file("no-such-token"));
  CHECK(missing.status == 1);
  CHECK(missing.out.find("--token-file") != std::string::npos);
  auto reads = test::run_cli("serve --model " + model_path + " --listen 127.0.0.1:0 --token-reads");
  CHECK(reads.status != 0);
  CHECK(reads.out.find("--token-reads needs --token-file") != std::string::npos);
}

TEST_CASE("serve cli: the --metrics servers of recflow node and batch check Host and, with "
          "--token-file, want the token for every request",
          "[serve][cli]") {
  test::scratch_dir dir;
  auto token_path = dir.file("token");
  std::ofstream(token_path) << "metrics-tok-42\n";
  test::child_process node({"node", "--listen", "127.0.0.1:0", "--insecure", "--metrics",
                            "127.0.0.1:0", "--token-file", token_path},
                           dir.file("node.log"));
  auto port = node.wait_for_port();
  INFO(node.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  CHECK(c.get("/metrics").status == 401);  // a read-only server: the token guards reads
  CHECK(c.get("/").status == 401);
  c.set_header("Authorization", "Bearer metrics-tok-42");
  auto ok = c.get("/metrics");
  CHECK(ok.status == 200);
  CHECK(ok.body.find("recflow_") != std::string::npos);
  c.set_header("Host", "elsewhere.example");
  CHECK(c.get("/metrics").status == 403);
  node.stop();
  // batch: a foreign Host is refused without a token too; a token file without --metrics
  // is a usage error, as is an unreadable one.
  test::child_process batch({"batch", "--data", test::data_dir() + "/ml-100k/u.data", "--split",
                             "0.8", "--rank", "5", "--iterations", "2", "--metrics",
                             "127.0.0.1:0", "--metrics-linger", "60"},
                            dir.file("batch.log"));
  port = batch.wait_for_port();
  INFO(batch.output());
  REQUIRE(port != 0);
  test::http_client b(port);
  CHECK(b.get("/metrics").status == 200);
  b.set_header("Host", "elsewhere.example");
  CHECK(b.get("/metrics").status == 403);
  batch.stop();
  auto alone = test::run_cli("batch --data " + test::data_dir() + "/ml-100k/u.data --token-file "
                             + token_path);
  CHECK(alone.status != 0);
  CHECK(alone.out.find("need --metrics") != std::string::npos);
  auto missing = test::run_cli("node --listen 127.0.0.1:0 --insecure --metrics 127.0.0.1:0 "
                               "--token-file " + dir.file("no-such-token"));
  CHECK(missing.status != 0);
  CHECK(missing.out.find("--token-file") != std::string::npos);
}

TEST_CASE("serve cli: stream --serve and --metrics take the same access options as serve", "[serve][cli]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-100k/u.data";
  auto token_path = dir.file("token");
  std::ofstream(token_path) << "stream-token\n";
  test::child_process p({"stream", "--data", data, "--split", "0.8", "--rank", "5", "--batch-size", "1000",
                         "--max-batches", "3", "--no-csv", "-q", "--serve", "127.0.0.1:0",
                         "--serve-linger", "-1", "--token-file", token_path, "--token-reads",
                         "--allow-host", "recs.example", "--max-new-ids-per-minute", "2"},
                        dir.file("log"));
  auto port = p.wait_for_port();
  INFO(p.output());
  REQUIRE(port != 0);
  test::http_client c(port);
  c.set_header("Host", "recs.example:" + std::to_string(port));
  CHECK(c.get("/health").status == 401);  // --token-reads
  c.set_header("Authorization", "Bearer stream-token");
  CHECK(c.get("/health").status == 200);
  // Two new ids a minute: a new user (and item 50, if no batch has brought it yet) pass,
  // two more new users wait.
  auto first = c.post("/ratings", R"({"user": 777777, "item": 50, "rating": 5})");
  CHECK((first.status == 202 || first.status == 200));  // 200 once the 3 batches are done
  auto second = c.post("/ratings", R"([{"user": 777778, "item": 50, "rating": 5},
                                       {"user": 777779, "item": 50, "rating": 5}])");
  CHECK(second.status == 429);
  CHECK_FALSE(second.header("retry-after").empty());
  c.set_header("Host", "localhost");  // a default that --allow-host replaced
  CHECK(c.get("/health").status == 403);
  CHECK(p.stop() == 0);
  // The --metrics server of a stream checks the same way.
  test::child_process m({"stream", "--data", data, "--split", "0.8", "--rank", "5", "--max-batches", "2",
                         "--no-csv", "-q", "--metrics", "127.0.0.1:0", "--serve-linger", "-1"},
                        dir.file("log2"));
  auto mport = m.wait_for_port();
  INFO(m.output());
  REQUIRE(mport != 0);
  test::http_client mc(mport);
  CHECK(mc.get("/metrics").status == 200);
  mc.set_header("Host", "rebound.example");
  CHECK(mc.get("/metrics").status == 403);
}
