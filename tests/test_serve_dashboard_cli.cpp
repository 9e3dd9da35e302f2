// The dashboard and /metrics of a real run, checked by the real tools: `promtool check
// metrics`, a Prometheus server scraping a stream, and headless Chromium reading the page.
// Without a tool the case is skipped (tests/skip_test_util.hpp), never passed.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/cli_test_util.hpp"
#include "tests/node_process.hpp"
#include "tests/redis_test_util.hpp"
#include "tests/serve_test_util.hpp"
#include "tests/skip_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace std::chrono_literals;

namespace {

/// A MovieLens 100K replay paced to take a few seconds (so that a page opens while it
/// runs), serving on a free port and lingering after the stream.
test::child_process paced_replay(test::scratch_dir& dir) {
  auto data = test::data_dir() + "/ml-100k/";
  return test::child_process({"stream", "--source", "replay:" + data + "u1.base", "--test",
                              data + "u1.test", "--replay-speed", "3000000", "--batch-size", "1000",
                              "--no-csv", "--serve", "127.0.0.1:0", "--serve-linger", "120"},
                             dir.file("stream.log"));
}

bool have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

/// What `recflow stream` printed: its batch lines, training ratings and final RMSE.
struct stream_lines {
  std::size_t batches = 0;
  std::uint64_t train_ratings = 0;
  double final_rmse = -1;
};

stream_lines parse_stream_output(const std::string& out) {
  stream_lines s;
  static const std::regex batch_line(R"((^|\n)batch +[0-9]+ )");
  s.batches = std::size_t(std::distance(std::sregex_iterator(out.begin(), out.end(), batch_line),
                                        std::sregex_iterator()));
  std::smatch m;
  static const std::regex train(R"(: ([0-9]+) training ratings)");
  if (std::regex_search(out, m, train))
    s.train_ratings = std::stoull(m[1]);
  static const std::regex final_line(R"(final validation rmse ([0-9.]+))");
  if (std::regex_search(out, m, final_line))
    s.final_rmse = std::stod(m[1]);
  return s;
}

/// Waits (at most `timeout`) for the child's log to show `needle`.
bool wait_for_text(test::child_process& p, const std::string& needle, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (p.output().find(needle) != std::string::npos)
      return true;
    if (p.exited())
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// Publishes u1.base (80,000 entries, then the end key) to `server`'s stream `s` and starts
/// `recflow stream` on it in batches of 1,000, with `extra` options and --metrics on a free
/// port that stays up after the stream.
test::child_process stream_redis_with_metrics(const test::redis_server& server,
                                              test::scratch_dir& dir,
                                              const std::vector<std::string>& extra) {
  auto data = test::data_dir() + "/ml-100k/";
  auto pub = test::run_cli("publish --redis " + server.address() + " --stream s --data " + data + "u1.base");
  REQUIRE(pub.status == 0);
  std::vector<std::string> args{"stream", "--source", "redis://" + server.address() + "/s",
                                "--test", data + "u1.test", "--batch-size", "1000"};
  args.insert(args.end(), extra.begin(), extra.end());
  for (const char* a : {"--no-csv", "--metrics", "127.0.0.1:0", "--serve-linger", "120"})
    args.emplace_back(a);
  return test::child_process(args, dir.file("stream.log"));
}

/// The sum of every series of /metrics text whose line starts with `prefix`
/// (e.g. `recflow_shard_ratings_total{side="user"`), and how many there are.
std::pair<double, int> sum_series(const std::string& metrics, const std::string& prefix) {
  std::pair<double, int> sum{0.0, 0};
  for (auto at = metrics.find("\n" + prefix); at != std::string::npos;
       at = metrics.find("\n" + prefix, at + 1)) {
    auto end = metrics.find('\n', at + 1);
    auto line = metrics.substr(at + 1, end - at - 1);
    sum.first += std::stod(line.substr(line.rfind(' ') + 1));
    ++sum.second;
  }
  return sum;
}

/// A port no one listens on now (the OS's choice for a socket bound to port 0).
std::uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

/// The value of attribute `name` in the first `<main ...>` tag of `dom` ("" if absent).
std::string main_attribute(const std::string& dom, const std::string& name) {
  std::smatch tag;
  if (!std::regex_search(dom, tag, std::regex("<main[^>]*>")))
    return {};
  std::smatch m;
  std::string t = tag.str();
  if (!std::regex_search(t, m, std::regex(name + "=\"([^\"]*)\"")))
    return {};
  return m[1];
}

/// The start of a headless Chromium command line (no sandbox: tests may run as root).
std::string chromium_command(const test::scratch_dir& dir, long virtual_ms = 10000) {
  return "timeout 120 chromium --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="
         + dir.file("profile") + " --virtual-time-budget=" + std::to_string(virtual_ms) + " ";
}

/// The ML-100K stream every case runs: 80 batches of 1000, validated after each.
std::vector<std::string> stream_args(const std::string& endpoint_option) {
  return {"stream", "--data", test::data_dir() + "/ml-100k/u.data", "--split", "0.8", "--rank", "10",
          "--batch-size", "1000", "--no-csv", endpoint_option, "127.0.0.1:0", "--serve-linger", "120"};
}

/// Headless Chromium on `url`: the DOM once the page has settled (its scripts ran, its
/// requests ended), or "" when Chromium failed. Profile and log go to `dir`.
std::string chromium_dom(const test::scratch_dir& dir, const std::string& url) {
  auto r = test::run_shell(chromium_command(dir) + "--dump-dom " + url + " 2>>" + dir.file("chromium.log"));
  return r.status == 0 ? r.output : std::string();
}

}  // namespace

TEST_CASE("serve metrics cli: promtool accepts /metrics and Prometheus scrapes the ratings streamed", "[serve][cli][prometheus]") {
  if (!have("promtool") || !have("prometheus")) {
    test::skip_without("prometheus (promtool and the server)");
    return;
  }
  test::scratch_dir dir;
  test::child_process run(stream_args("--metrics"), dir.file("stream.log"));
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  auto lines = parse_stream_output(run.output());
  REQUIRE(lines.train_ratings > 0);
  // --metrics serves the metrics and the dashboard, no queries.
  test::http_client c(port);
  CHECK(c.get("/predict?user=1&item=1").status == 404);
  CHECK(c.get("/").status == 200);
  auto text = c.get("/metrics").body;
  CHECK(text.find("recflow_ratings_applied_total " + std::to_string(lines.train_ratings) + "\n")
        != std::string::npos);
  {
    std::ofstream(dir.file("metrics.txt")) << text;
  }
  auto check = test::run_shell("promtool check metrics < " + dir.file("metrics.txt") + " 2>&1");
  INFO(check.output);
  CHECK(check.status == 0);

  auto prom_port = free_port();
  {
    std::ofstream cfg(dir.file("prometheus.yml"));
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: recflow\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << port << "']\n";
  }
  test::child_process prom({"--config.file=" + dir.file("prometheus.yml"),
                            "--storage.tsdb.path=" + dir.file("tsdb"),
                            "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                           dir.file("prometheus.log"), "/usr/bin/prometheus");
  // Prometheus' HTTP API: the counter once a scrape has stored it.
  double scraped = -1;
  auto end = std::chrono::steady_clock::now() + 60s;
  while (scraped != double(lines.train_ratings) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(250ms);
    try {
      test::http_client api(prom_port);
      auto j = api.get("/api/v1/query?query=recflow_ratings_applied_total").json();
      if (j.is_object() && j["status"] == "success" && !j["data"]["result"].empty())
        scraped = std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
    } catch (const std::exception&) {  // not listening yet
    }
  }
  INFO(prom.output());
  CHECK(scraped == double(lines.train_ratings));
  prom.stop();
  CHECK(run.stop() == 0);  // SIGTERM ends the linger
}

TEST_CASE("serve dashboard cli: headless Chromium shows one chart point per batch and the final RMSE", "[serve][cli][browser]") {
  if (!have("chromium")) {
    test::skip_without("chromium");
    return;
  }
  test::scratch_dir dir;
  test::child_process run(stream_args("--serve"), dir.file("stream.log"));
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  auto lines = parse_stream_output(run.output());
  REQUIRE(lines.batches == 80);
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto dom = chromium_dom(dir, url);
  REQUIRE(!dom.empty());
  INFO(dom.substr(0, 2000));
  CHECK(main_attribute(dom, "data-state") == "done");
  CHECK(main_attribute(dom, "data-points") == std::to_string(lines.batches));
  CHECK(main_attribute(dom, "data-chart-rows") == std::to_string(lines.batches));
  CHECK(main_attribute(dom, "data-last-batch") == std::to_string(lines.batches));
  auto last = main_attribute(dom, "data-last-rmse");
  auto final_rmse = main_attribute(dom, "data-final-rmse");
  REQUIRE(!last.empty());
  REQUIRE(!final_rmse.empty());
  // The final line prints 4 decimals; the page holds the full value.
  CHECK(std::abs(std::stod(last) - lines.final_rmse) <= 0.00005);
  CHECK(std::abs(std::stod(final_rmse) - lines.final_rmse) <= 0.00005);
  // The load of both owner shards of each side, and nothing in flight once it ended.
  CHECK(main_attribute(dom, "data-shards") == "2");
  CHECK(main_attribute(dom, "data-in-flight") == "0");

  // A screenshot, kept in the build folder (beside the recflow binary) for people to look at.
  auto shot = (std::filesystem::path(RECFLOW_CLI_PATH).parent_path() / "dashboard-screenshot.png").string();
  std::remove(shot.c_str());
  auto taken = test::run_shell(chromium_command(dir) + "--hide-scrollbars --window-size=1280,1000 --screenshot="
                                  + shot + " " + url + " 2>>" + dir.file("chromium.log"));
  CHECK(taken.status == 0);
  std::ifstream png(shot, std::ios::binary | std::ios::ate);
  CHECK(png.good());
  CHECK(png.tellg() > 10'000);
  CHECK(run.stop() == 0);
}

TEST_CASE("serve dashboard cli: a page opened during the stream follows it by Server-Sent Events to the end", "[serve][cli][browser]") {
  if (!have("chromium")) {
    test::skip_without("chromium");
    return;
  }
  test::scratch_dir dir;
  auto run = paced_replay(dir);
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  auto dom = chromium_dom(dir, "http://127.0.0.1:" + std::to_string(port) + "/");
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  auto lines = parse_stream_output(run.output());
  INFO(run.output().substr(0, 300));
  REQUIRE(lines.batches == 80);
  INFO(dom.substr(0, 2000));
  CHECK(main_attribute(dom, "data-state") == "done");
  CHECK(std::stoi("0" + main_attribute(dom, "data-events")) > 0);  // batches came as events
  CHECK(main_attribute(dom, "data-points") == std::to_string(lines.batches));
  CHECK(std::abs(std::stod("0" + main_attribute(dom, "data-last-rmse")) - lines.final_rmse) <= 0.00005);
  test::http_client c(port);
  CHECK(c.get("/metrics").body.find("recflow_source_position_ratings 80000\n") != std::string::npos);
  CHECK(run.stop() == 0);
}

TEST_CASE("serve metrics cli: a Redis stream's lag and position reach /metrics", "[serve][cli][redis]") {
  auto server = test::redis_or_skip();
  if (!server)
    return;
  test::scratch_dir dir;
  auto run = stream_redis_with_metrics(*server, dir, {});
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  test::http_client c(port);
  auto text = c.get("/metrics").body;
  INFO(text.substr(0, 200));
  static const std::regex lag(R"(\nrecflow_source_lag_seconds ([-0-9.e+]+)\n)");
  std::smatch m;
  REQUIRE(std::regex_search(text, m, lag));
  CHECK(std::stod(m[1]) >= -1.0);   // clocks of one machine: no entry from the future
  CHECK(std::stod(m[1]) < 600.0);   // published moments ago
  CHECK(text.find("recflow_ratings_applied_total 80000\n") != std::string::npos);
  CHECK(c.get("/dashboard.json").json()["info"]["source position"].get<std::string>().find('-')
        != std::string::npos);
  // Every entry read and acknowledged: nothing pending, nothing unread, no failed
  // acknowledgement, no reconnect.
  CHECK(text.find("\nrecflow_source_pending_entries 0\n") != std::string::npos);
  CHECK(text.find("\nrecflow_source_unread_entries 0\n") != std::string::npos);
  CHECK(text.find("\nrecflow_source_failed_acks 0\n") != std::string::npos);
  CHECK(text.find("\nrecflow_source_reconnects 0\n") != std::string::npos);
  CHECK(run.stop() == 0);
}

TEST_CASE("serve metrics cli: a Redis stream stopped early shows its unread entries in /metrics", "[serve][cli][redis]") {
  auto server = test::redis_or_skip();
  if (!server)
    return;
  test::scratch_dir dir;
  auto run = stream_redis_with_metrics(*server, dir, {"--max-batches", "10"});
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  test::http_client c(port);
  auto text = c.get("/metrics").body;
  INFO(text);
  CHECK(text.find("recflow_ratings_applied_total 10000\n") != std::string::npos);
  // 10 batches of 1,000 read and applied (acknowledged); the rest unread (the end is a key,
  // not an entry).
  CHECK(text.find("\nrecflow_source_pending_entries 0\n") != std::string::npos);
  CHECK(text.find("\nrecflow_source_unread_entries 70000\n") != std::string::npos);
  CHECK(c.get("/dashboard.json").json()["info"]["source backlog"] == "0 entries pending, 70000 unread");
  CHECK(run.stop() == 0);
}

TEST_CASE("serve dashboard cli: a page that polls instead of following events gets every batch too", "[serve][cli][browser]") {
  if (!have("chromium")) {
    test::skip_without("chromium");
    return;
  }
  test::scratch_dir dir;
  auto run = paced_replay(dir);
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  // Polls every second of virtual time; virtual time stands still while a request is out,
  // so a long budget lasts as long as the stream and then runs out at once.
  auto r = test::run_shell(chromium_command(dir, 100000000) + "--dump-dom 'http://127.0.0.1:"
                           + std::to_string(port) + "/?transport=poll' 2>>" + dir.file("chromium.log"));
  REQUIRE(r.status == 0);
  const auto& dom = r.output;
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  auto lines = parse_stream_output(run.output());
  INFO(dom.substr(0, 2000));
  CHECK(main_attribute(dom, "data-transport") == "poll");
  CHECK(main_attribute(dom, "data-events") == "0");
  CHECK(main_attribute(dom, "data-state") == "done");
  CHECK(main_attribute(dom, "data-points") == std::to_string(lines.batches));
  CHECK(run.stop() == 0);
}

TEST_CASE("serve dashboard cli: a 2-node stream shows both nodes on the page and in /metrics", "[serve][cli][browser][multinode]") {
  if (!have("chromium")) {
    test::skip_without("chromium");
    return;
  }
  test::scratch_dir dir;
  std::vector<std::unique_ptr<test::node_process>> nodes;
  for (int k = 0; k < 2; ++k)
    nodes.push_back(std::make_unique<test::node_process>());
  auto args = stream_args("--metrics");  // --serve needs the local engine
  args.insert(args.end(), {"--nodes", test::node_list(nodes), "--secret-file",
                           test::node_secret_file()});
  test::child_process run(args, dir.file("stream.log"));
  auto port = run.wait_for_port();
  REQUIRE(port != 0);
  REQUIRE(wait_for_text(run, "final validation rmse", 120s));
  auto lines = parse_stream_output(run.output());
  REQUIRE(lines.batches == 80);
  test::http_client c(port);
  auto metrics = c.get("/metrics").body;
  CHECK(metrics.find("recflow_nodes_alive 2\n") != std::string::npos);
  CHECK(metrics.find("recflow_nodes_lost 0\n") != std::string::npos);
  // The owners on the nodes counted their shards' ratings: every rating once per side.
  CHECK(sum_series(metrics, "recflow_shard_ratings_total{side=\"user\"") == std::pair<double, int>{80000.0, 2});
  CHECK(sum_series(metrics, "recflow_shard_ratings_total{side=\"item\"") == std::pair<double, int>{80000.0, 2});
  CHECK(metrics.find("recflow_batches_in_flight 0\n") != std::string::npos);
  auto dom = chromium_dom(dir, "http://127.0.0.1:" + std::to_string(port) + "/");
  INFO(dom.substr(0, 3000));
  CHECK(main_attribute(dom, "data-points") == std::to_string(lines.batches));
  CHECK(main_attribute(dom, "data-shards") == "2");
  for (const auto& n : nodes)
    CHECK(dom.find(n->address()) != std::string::npos);
  CHECK(std::abs(std::stod("0" + main_attribute(dom, "data-last-rmse")) - lines.final_rmse) <= 0.00005);
  CHECK(run.stop() == 0);
}

TEST_CASE("serve metrics cli: batch, batch --implicit, stream --implicit and node --metrics serve /metrics that promtool accepts", "[serve][cli][prometheus]") {
  if (!have("promtool")) {
    test::skip_without("prometheus (promtool)");
    return;
  }
  test::scratch_dir dir;
  auto promtool_accepts = [&](std::uint16_t port, const std::string& name) {
    test::http_client c(port);
    auto text = c.get("/metrics").body;
    std::ofstream(dir.file(name)) << text;
    auto check = test::run_shell("promtool check metrics < " + dir.file(name) + " 2>&1");
    INFO(check.output);
    CHECK(check.status == 0);
    CHECK(c.get("/").status == 200);
    return text;
  };
  // Each training command with --metrics on a free port, scraped once it has printed `done`:
  // the exposition promtool accepts, with what that command adds.
  const auto ml = test::data_dir() + "/ml-100k/u.data";
  struct training {
    std::vector<std::string> args;
    std::string done;
    std::vector<std::string> shows;
  };
  const std::vector<training> runs = {
    {{"batch", "--data", ml, "--split", "0.8", "--rank", "10", "--iterations", "3",
      "--metrics-linger", "60"},
     "test rmse", {"recflow_als_sweeps_total 3\n", "recflow_validation_rmse 0."}},
    {{"batch", "--implicit", "--implicit-threshold", "4", "--data", ml, "--rank", "8",
      "--iterations", "3", "--metrics-linger", "60"},
     "test HR@10",
     {"recflow_als_sweeps_total 3\n", "recflow_implicit_objective ", "recflow_implicit_hit_rate 0."}},
    {{"stream", "--implicit", "--implicit-threshold", "4", "--data", ml, "--rank", "8",
      "--batch-size", "5000", "--no-csv", "--serve-linger", "60"},
     "final: HR@10",
     {"recflow_batches_applied_total ", "recflow_implicit_hit_rate 0.", "recflow_implicit_ndcg 0."}},
  };
  for (std::size_t k = 0; k < runs.size(); ++k) {
    auto args = runs[k].args;
    args.insert(args.end(), {"--metrics", "127.0.0.1:0"});
    const auto name = "training" + std::to_string(k);
    test::child_process run(args, dir.file(name + ".log"));
    auto port = run.wait_for_port();
    INFO(args[0] << " " << args[1] << ": " << run.output());
    REQUIRE(port != 0);
    REQUIRE(wait_for_text(run, runs[k].done, 120s));
    auto text = promtool_accepts(port, name + ".txt");
    for (const auto& metric : runs[k].shows)
      CHECK(text.find(metric) != std::string::npos);
    run.stop();
  }

  test::child_process node({"node", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
                            "--insecure"},
                           dir.file("node.log"));
  REQUIRE(wait_for_text(node, "metrics and dashboard on", 30s));
  auto port = node.wait_for_port();
  REQUIRE(port != 0);
  promtool_accepts(port, "node.txt");
  CHECK(node.stop() == 0);
}
