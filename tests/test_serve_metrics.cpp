// The metrics registry and its Prometheus text exposition (no sockets).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "recflow/serve/metrics_registry.hpp"

using namespace recflow::serve;

TEST_CASE("serve metrics: counters, gauges and histograms expose with HELP, TYPE and cumulative buckets", "[serve][metrics]") {
  metrics_registry reg;
  reg.counter("recflow_ratings_applied_total", "Ratings trained on").add(1000);
  reg.counter("recflow_ratings_applied_total", "Ratings trained on").add(500);
  reg.gauge("recflow_validation_rmse", "Validation RMSE").set(0.9612);
  auto& h = reg.histogram("recflow_batch_duration_seconds", "Batch latency", {0.25, 0.5, 1});
  h.observe(0.125);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(4);
  auto text = reg.expose();
  CHECK(text ==
        "# HELP recflow_batch_duration_seconds Batch latency\n"
        "# TYPE recflow_batch_duration_seconds histogram\n"
        "recflow_batch_duration_seconds_bucket{le=\"0.25\"} 1\n"
        "recflow_batch_duration_seconds_bucket{le=\"0.5\"} 3\n"
        "recflow_batch_duration_seconds_bucket{le=\"1\"} 3\n"
        "recflow_batch_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "recflow_batch_duration_seconds_sum 5.125\n"
        "recflow_batch_duration_seconds_count 4\n"
        "# HELP recflow_ratings_applied_total Ratings trained on\n"
        "# TYPE recflow_ratings_applied_total counter\n"
        "recflow_ratings_applied_total 1500\n"
        "# HELP recflow_validation_rmse Validation RMSE\n"
        "# TYPE recflow_validation_rmse gauge\n"
        "recflow_validation_rmse 0.9612\n");
}

TEST_CASE("serve metrics: labels are escaped and sorted per series, le comes last", "[serve][metrics]") {
  metrics_registry reg;
  reg.counter("http_requests_total", "Requests", {{"route", "/a\"b\\c\nd"}, {"status", "200"}}).add();
  reg.counter("http_requests_total", "Requests", {{"route", "/a"}, {"status", "404"}}).add(2);
  reg.histogram("http_request_duration_seconds", "Latency", {0.5}, {{"route", "/a"}}).observe(0.25);
  auto text = reg.expose();
  CHECK(text.find("http_requests_total{route=\"/a\\\"b\\\\c\\nd\",status=\"200\"} 1\n") != std::string::npos);
  CHECK(text.find("http_requests_total{route=\"/a\",status=\"404\"} 2\n") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_bucket{route=\"/a\",le=\"0.5\"} 1\n") != std::string::npos);
  CHECK(text.find("http_request_duration_seconds_sum{route=\"/a\"} 0.25\n") != std::string::npos);
  CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("serve metrics: values print as Prometheus reads them", "[serve][metrics]") {
  CHECK(format_metric_value(0) == "0");
  CHECK(format_metric_value(3) == "3");
  CHECK(format_metric_value(-2.5) == "-2.5");
  CHECK(format_metric_value(1e21) == "1e+21");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_metric_value(std::nan("")) == "NaN");
  CHECK(std::stod(format_metric_value(0.1 + 0.2)) == 0.1 + 0.2);  // round trip
}

TEST_CASE("serve metrics: bad names, labels, types and bounds are refused at registration", "[serve][metrics]") {
  metrics_registry reg;
  CHECK_THROWS_AS(reg.gauge("1abc", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("a-b", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("", "x"), std::invalid_argument);
  CHECK_THROWS_AS(reg.counter("recflow_ratings", "no _total"), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("ok", "x", {{"__reserved", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(reg.gauge("ok", "x", {{"a:b", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h_seconds", "x", {1.0}, {{"le", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(reg.histogram("h2_seconds", "x", {1.0, 1.0}), std::invalid_argument);
  reg.gauge("twice", "x");
  CHECK_THROWS_AS(reg.counter("twice", "x"), std::invalid_argument);
  CHECK(valid_metric_name("recflow:rule_total"));
  CHECK_FALSE(valid_label_name("a:b"));
  // A refused registration leaves nothing half-made behind.
  CHECK(reg.expose() == "# HELP twice x\n# TYPE twice gauge\ntwice 0\n");
}

TEST_CASE("serve metrics: help text escapes backslash and newline, and collectors run before exposing", "[serve][metrics]") {
  metrics_registry reg;
  auto& g = reg.gauge("recflow_model_age_seconds", "Age\\of the\nmodel");
  int runs = 0;
  reg.on_collect([&] { g.set(++runs); });
  auto text = reg.expose();
  CHECK(text.find("# HELP recflow_model_age_seconds Age\\\\of the\\nmodel\n") != std::string::npos);
  CHECK(text.find("recflow_model_age_seconds 1\n") != std::string::npos);
  reg.expose();
  CHECK(runs == 2);
}

TEST_CASE("serve metrics: histogram quantiles interpolate within buckets", "[serve][metrics]") {
  metric_histogram h({1, 2, 4});
  CHECK(std::isnan(h.quantile(0.5)));
  for (int i = 0; i < 10; ++i)
    h.observe(1.5);  // all in (1, 2]
  CHECK(h.quantile(0.5) == Approx(1.5));
  CHECK(h.quantile(1.0) == Approx(2.0));
  h.observe(100);  // above every bound: the largest bound is all that is known
  CHECK(h.quantile(1.0) == Approx(4.0));
  h.observe(std::nan(""));  // ignored
  CHECK(h.snapshot().count == 11);
  CHECK(exponential_buckets(0.001, 10, 3) == std::vector<double>{0.001, 0.01, 0.1});
}

TEST_CASE("serve metrics: updates from several threads while exposing lose nothing", "[serve][metrics]") {
  metrics_registry reg;
  auto& c = reg.counter("hits_total", "Hits");
  auto& h = reg.histogram("lat_seconds", "Latency", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        c.add();
        h.observe(0.1);
      }
    });
  for (int i = 0; i < 50; ++i)
    CHECK_FALSE(reg.expose().empty());
  for (auto& t : threads)
    t.join();
  CHECK(c.value() == 40'000);
  CHECK(h.snapshot().count == 40'000);
  CHECK(reg.expose().find("lat_seconds_bucket{le=\"+Inf\"} 40000\n") != std::string::npos);
}
