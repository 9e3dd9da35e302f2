// The live monitor, the events hub and the dashboard's routes: without sockets, then on a
// real server on 127.0.0.1 (GET /metrics, /, its assets, /events).
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/serve/dashboard_assets.hpp"
#include "recflow/serve/event_hub.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"
#include "tests/serve_test_util.hpp"

using namespace recflow;
using namespace recflow::serve;
using json = nlohmann::json;

namespace {

batch_point point(std::uint64_t b, double rmse) {
  return {.batch = b, .ratings = 100, .ratings_seen = 100 * b, .evaluated = true, .rmse = rmse,
          .mae = rmse * 0.8, .latency_seconds = 0.002, .elapsed_seconds = 0.01 * double(b),
          .edges = {{"partition_to_users", 2, 512}}};
}

/// A raw connection reading a Server-Sent Events stream, with a read timeout.
class sse_reader {
 public:
  explicit sse_reader(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    boost::asio::write(socket_, boost::asio::buffer(req));
  }
  /// Reads until `text` holds `needle` after `from` (or the timeout, or the server closes).
  bool read_until(const std::string& needle, std::size_t from = 0) {
    char buf[4096];
    while (text.find(needle, from) == std::string::npos) {
      boost::system::error_code ec;
      auto n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec || n == 0)
        return false;
      text.append(buf, n);
    }
    return true;
  }
  std::string text;

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace

TEST_CASE("serve events: a client that falls behind gets one resync instead of a growing queue", "[serve][dashboard]") {
  event_hub hub({.max_clients = 2, .max_queued = 3});
  int wakes = 0;
  auto a = hub.subscribe(nullptr, [&] { ++wakes; });
  auto b = hub.subscribe(nullptr, {});
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(hub.subscribe(nullptr, {}));  // max_clients
  CHECK(a->take().empty());                  // idle from now on: the next event wakes it
  hub.publish(sse_event("batch", "1"));
  hub.publish(sse_event("batch", "2"));
  CHECK(wakes == 1);  // woken once, on the first event after idle
  CHECK(a->take() == "event: batch\ndata: 1\n\nevent: batch\ndata: 2\n\n");
  for (int i = 0; i < 10; ++i)
    hub.publish(sse_event("batch", std::to_string(i)));
  auto late = a->take();
  CHECK(late.find("event: resync") != std::string::npos);
  CHECK(late.size() < 100);  // a resync and the events after it, not the ten
  CHECK(a->dropped() > 0);
  hub.unsubscribe(b.get());
  CHECK(hub.clients() == 1);
  hub.detach(nullptr);
  CHECK(hub.clients() == 0);
  CHECK(sse_event("x", "a\nb") == "event: x\ndata: a\ndata: b\n\n");
}

TEST_CASE("serve monitor: batches reach the metrics and the state, whose history stays bounded", "[serve][dashboard]") {
  live_monitor mon({.max_history = 64});
  mon.set_info("data", "ml-100k");
  mon.set_baseline_rmse(0.92);
  for (std::uint64_t b = 1; b <= 200; ++b)
    mon.on_batch(point(b, 1.0 - 0.001 * double(b)));
  mon.on_checkpoint("ckpt/1");
  mon.on_event("recovery", "lost node a; restoring ...");
  mon.finish(0.7, 0.56);
  auto metrics = mon.handle("GET", "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->content_type.starts_with("text/plain; version=0.0.4"));
  CHECK(metrics->body.find("recflow_ratings_applied_total 20000\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_batches_applied_total 200\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_validation_rmse 0.7\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_checkpoints_written_total 1\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_edge_bytes_total{edge=\"partition_to_users\"} 102400\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_events_total{kind=\"recovery\"} 1\n") != std::string::npos);
  CHECK(metrics->body.find("recflow_training 0\n") != std::string::npos);
  auto state = json::parse(mon.state_json());
  CHECK(state["info"]["data"] == "ml-100k");
  CHECK(state["baseline_rmse"] == 0.92);
  CHECK(state["points"].size() <= 64);
  CHECK(state["points"].back()[0] == 200);  // the last batch is always kept
  CHECK(state["status"]["finished"] == true);
  CHECK(state["status"]["final_rmse"] == 0.7);
  CHECK(state["log"].size() == 1);
  CHECK(live_monitor::route_label("/predict") == "/predict");
  CHECK(live_monitor::route_label("/x/../../etc") == "other");
  CHECK(live_monitor::route_label("/dygraph.min.js") == "/assets");
  CHECK(mon.handle("POST", "/metrics")->status == 405);
  CHECK_FALSE(mon.handle("GET", "/predict"));
}

TEST_CASE("serve dashboard: the page refers only to assets the binary serves, none outside", "[serve][dashboard]") {
  std::set<std::string> served;
  std::string page;
  for (const auto& a : dashboard_assets()) {
    served.insert(std::string(a.path));
    if (a.path == "/")
      page = std::string(a.body);
  }
  REQUIRE(!page.empty());
  REQUIRE(served.count("/dygraph.min.js"));
  // Every src= and href= in the page is a path on this server.
  static const std::regex ref(R"re((src|href)\s*=\s*"([^"]*)")re");
  int refs = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), ref); it != std::sregex_iterator(); ++it) {
    auto url = (*it)[2].str();
    INFO(url);
    CHECK(url.starts_with("/"));
    CHECK_FALSE(url.starts_with("//"));
    if (url != "/metrics")
      CHECK(served.count(url) == 1);
    ++refs;
  }
  CHECK(refs >= 5);
  // Nothing in the page's own files names another host.
  for (const auto& a : dashboard_assets())
    if (a.path == "/" || a.path == "/dashboard.js" || a.path == "/dashboard.css") {
      INFO(a.path);
      CHECK(a.body.find("http://") == std::string_view::npos);
      CHECK(a.body.find("https://") == std::string_view::npos);
      CHECK(a.body.find("@import") == std::string_view::npos);
    }
}

TEST_CASE("serve dashboard: a monitor-only server answers /metrics, the page and /events, and bounds its clients", "[serve][dashboard]") {
  live_monitor mon({.events = {.max_clients = 1, .max_queued = 8}});
  auto server = http_server::start(http_routes{.monitor = &mon}, {.host = "127.0.0.1", .port = 0});
  REQUIRE(server);
  auto port = (*server)->port();
  test::http_client c(port);
  auto metrics = c.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("# TYPE recflow_ratings_applied_total counter") != std::string::npos);
  auto page = c.get("/");
  CHECK(page.status == 200);
  CHECK(page.body.find("id=\"dashboard\"") != std::string::npos);
  CHECK(c.get("/dygraph.min.js").status == 200);
  CHECK(c.get("/predict?user=1&item=2").status == 404);  // no query service here
  CHECK(c.get("/dashboard.json").json()["points"].empty());

  sse_reader events(port);
  REQUIRE(events.read_until("retry: 2000\n\n"));
  CHECK(events.text.find("Content-Type: text/event-stream") != std::string::npos);
  // The second client is refused while the first is open.
  test::http_client refused(port);
  CHECK(refused.get("/events").status == 503);
  for (int i = 0; i < 200 && mon.events().clients() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  mon.on_batch(point(1, 0.99));
  mon.on_batch(point(2, 0.98));
  REQUIRE(events.read_until("\"point\":[2,"));
  CHECK(events.text.find("event: batch\ndata: {\"point\":[1,100,0.99") != std::string::npos);
  mon.finish(0.98, 0.78);
  REQUIRE(events.read_until("event: end"));
  auto text = c.get("/metrics").body;
  CHECK(text.find("recflow_http_requests_total{route=\"/events\",status=\"503\"} 1") != std::string::npos);
  CHECK(text.find("recflow_http_requests_total{route=\"/predict\",status=\"404\"} 1") != std::string::npos);
  CHECK(text.find("recflow_dashboard_clients 1") != std::string::npos);
  (*server)->stop();
}

TEST_CASE("serve dashboard: servers stop and go while batches are published to their events clients", "[serve][dashboard]") {
  live_monitor mon({.events = {.max_clients = 4, .max_queued = 4}});
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (std::uint64_t b = 1; !done.load(); ++b)
      mon.on_batch(point(b, 1.0));
  });
  for (int round = 0; round < 10; ++round) {
    auto server = http_server::start(http_routes{.monitor = &mon}, {.host = "127.0.0.1", .port = 0});
    REQUIRE(server);
    sse_reader a((*server)->port()), b((*server)->port());
    CHECK(a.read_until("event: batch"));
    CHECK(b.read_until("event: batch"));
    server->reset();  // stops it while events keep coming
  }
  done.store(true);
  publisher.join();
  CHECK(mon.events().clients() == 0);
}

TEST_CASE("serve dashboard: a burst of batches reaches an events client as a few events carrying every point in order",
          "[serve][dashboard]") {
  live_monitor mon({.event_interval = std::chrono::milliseconds(100)});
  auto server = http_server::start(http_routes{.monitor = &mon}, {.host = "127.0.0.1", .port = 0});
  REQUIRE(server);
  sse_reader events((*server)->port());
  REQUIRE(events.read_until("retry: 2000\n\n"));
  for (int i = 0; i < 200 && mon.events().clients() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(mon.events().clients() == 1);
  constexpr std::uint64_t burst = 3000;
  for (std::uint64_t b = 1; b <= burst; ++b)
    mon.on_batch(point(b, 1.0 / double(b)));
  // No finish(): the monitor's own thread sends the last ones within the interval.
  const std::string last = "\"point\":[" + std::to_string(burst) + ",";
  REQUIRE(events.read_until(last));
  REQUIRE(events.read_until("\n\n", events.text.find(last)));  // the rest of that event

  std::uint64_t next = 1, batch_events = 0;
  const std::string head = "event: batch\ndata: ";
  for (auto at = events.text.find(head); at != std::string::npos; at = events.text.find(head, at + 1)) {
    auto end = events.text.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    auto d = json::parse(events.text.substr(at + head.size(), end - at - head.size()));
    ++batch_events;
    CHECK(d["point"] == d["points"].back());
    for (const auto& p : d["points"])
      CHECK(p[0].get<std::uint64_t>() == next++);
    CHECK(d["status"]["batches"].get<std::uint64_t>() == d["points"].back()[0].get<std::uint64_t>());
  }
  CHECK(next == burst + 1);  // every batch once, in order
  // Events go at most every interval or every max_points_per_event batches: a few, not 3,000.
  CHECK(batch_events <= burst / monitor_options{}.max_points_per_event + 1 + 2);
  (*server)->stop();
}
