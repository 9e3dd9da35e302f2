/// Counters, gauges and histograms, and their Prometheus text exposition (format 0.0.4).
///
///   metrics_registry reg;
///   auto& applied = reg.counter("recflow_ratings_applied_total", "Ratings trained on");
///   auto& latency = reg.histogram("recflow_batch_duration_seconds", "Batch latency",
///                                 exponential_buckets(0.001, 2, 12));
///   applied.add(1000);
///   latency.observe(0.012);
///   std::string text = reg.expose();   // what GET /metrics answers
///
/// Names follow Prometheus' conventions: base units (seconds, bytes) in the name, counters
/// end in `_total`. A name or label that breaks the grammar ([a-zA-Z_:][a-zA-Z0-9_:]* for
/// names, [a-zA-Z_][a-zA-Z0-9_]* and no leading "__" for label names), a counter without
/// `_total`, or one name registered as two types is a programming error: it throws
/// std::invalid_argument at registration, never at exposition. Updates are lock-free for
/// counters and gauges and take one short lock for histograms; every metric may be updated
/// from any thread while another exposes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace recflow::serve {

/// Label names and values of one time series, e.g. {{"route", "/predict"}, {"status", "200"}}.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// A value that only goes up (reset only by a restart).
class metric_counter {
 public:
  void add(double v = 1.0) noexcept { value_.fetch_add(v > 0 ? v : 0.0, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

/// A value that goes up and down.
class metric_gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

/// Observations counted in buckets by upper bound (cumulative on exposition).
class metric_histogram {
 public:
  /// `bounds`: strictly increasing finite upper bounds; +Inf is implicit.
  explicit metric_histogram(std::vector<double> bounds);
  void observe(double v) noexcept;

  struct snapshot_type {
    std::vector<double> bounds;
    std::vector<std::uint64_t> counts;  ///< per bucket, not cumulative; last: above every bound
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  snapshot_type snapshot() const;
  /// The q-quantile (0..1) estimated from the buckets (linear within a bucket, as
  /// Prometheus' histogram_quantile does); NaN without observations.
  double quantile(double q) const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

/// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

/// A value as the text format writes it: shortest round-trip decimal, "NaN", "+Inf", "-Inf".
std::string format_metric_value(double v);
/// A label value escaped for the text format (backslash, double quote, newline).
std::string escape_label_value(std::string_view v);
/// Whether `name` is a valid metric name; and a valid label name.
bool valid_metric_name(std::string_view name) noexcept;
bool valid_label_name(std::string_view name) noexcept;

class metrics_registry {
 public:
  metrics_registry() = default;
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  /// The series `name{labels}`, created on first use; later calls return the same one.
  metric_counter& counter(std::string_view name, std::string_view help, const metric_labels& labels = {});
  metric_gauge& gauge(std::string_view name, std::string_view help, const metric_labels& labels = {});
  /// `bounds` of the first registration of `name` hold for every series of it.
  metric_histogram& histogram(std::string_view name, std::string_view help,
                              const std::vector<double>& bounds, const metric_labels& labels = {});

  /// Runs before every exposition (e.g. to set a gauge read from elsewhere).
  void on_collect(std::function<void()> f);

  /// Every family in name order, each with its HELP and TYPE lines.
  std::string expose() const;

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind type;
    std::string help;
    std::vector<double> bounds;
    std::map<metric_labels, std::unique_ptr<metric_counter>> counters;
    std::map<metric_labels, std::unique_ptr<metric_gauge>> gauges;
    std::map<metric_labels, std::unique_ptr<metric_histogram>> histograms;
  };
  family& find_or_add(std::string_view name, std::string_view help, kind type,
                      const metric_labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, family, std::less<>> families_;
  std::vector<std::function<void()>> collectors_;
};

}  // namespace recflow::serve
