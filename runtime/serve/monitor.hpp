/// What a running job shows to people and to Prometheus: the metrics of GET /metrics, the
/// dashboard page of GET / (built into the binary), its state as JSON (GET /dashboard.json)
/// and its live updates as Server-Sent Events (GET /events).
///
///   live_monitor mon;
///   mon.set_info("data", "ml-100k/u.data");
///   mon.on_batch({.batch = 1, .ratings = 1000, .ratings_seen = 1000, .evaluated = true,
///                 .rmse = 1.21, .mae = 0.93, .latency_seconds = 0.004});
///   auto server = http_server::start({.monitor = &mon}, {.port = 0}).value();
///
/// Memory is bounded however long the job runs: the history keeps at most `max_history`
/// points (past that, every other old point is dropped: the chart thins, the run goes on),
/// the event log `max_log` lines, and the events hub bounds its clients and their queues.
/// Every method may be called from any thread.
///
/// What it costs training: a batch stores one point (numbers; JSON is written when read).
/// While pages follow /events, the batches are sent at most every `event_interval`, many
/// points to an event (a thread of the monitor sends what waits), so a stream of thousands
/// of batches a second builds a few events a second, not one per batch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "recflow/serve/event_hub.hpp"
#include "recflow/serve/metrics_registry.hpp"

namespace recflow::serve {

class query_service;

/// Traffic on one edge of the dataflow graph in one batch.
struct edge_point {
  std::string name{};  ///< e.g. "partition_to_users"
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};

/// One completed micro-batch, as the dashboard and the metrics see it.
struct batch_point {
  std::uint64_t batch = 0;          ///< 1-based, continuing a resumed run
  std::uint64_t ratings = 0;        ///< ratings trained on in this batch
  std::uint64_t ratings_seen = 0;   ///< ratings streamed so far
  bool evaluated = false;           ///< rmse and mae were measured after this batch
  double rmse = 0.0, mae = 0.0;
  double latency_seconds = 0.0;     ///< the batch's update time
  double elapsed_seconds = 0.0;     ///< since the stream began
  std::vector<edge_point> edges{};  ///< empty when the engine does not measure them
  /// Ratings each user owner and each item owner applied in this batch (index = shard);
  /// empty when the engine does not measure them.
  std::vector<std::uint64_t> user_shards{}, item_shards{};
  /// Batches handed over by the source and not yet applied when this one was (this one
  /// included); none when the engine does not know.
  std::optional<std::size_t> in_flight{};
};

/// How uneven a load is: the largest share over the mean (1 when even, or when empty).
double max_over_mean(const std::vector<std::uint64_t>& load) noexcept;

/// A reply that is not JSON from the query service: a status, a content type and a body.
struct http_reply {
  int status = 200;
  std::string content_type{};
  std::string body{};
  bool cacheable = false;  ///< a static asset (the page and its scripts)
};

/// Limits of a live_monitor, with defaults.
struct monitor_options {
  std::size_t max_history = 20'000;  ///< batch points kept for the chart
  std::size_t max_log = 200;         ///< event lines kept (node lost, recovered, ...)
  event_hub_options events{};
  /// Batches are sent to /events clients at most this often (a batch after a quieter
  /// interval goes at once; the ones of a burst wait for the next event) ...
  std::chrono::milliseconds event_interval{200};
  /// ... or when this many wait, whichever comes first.
  std::size_t max_points_per_event = 500;
};

class live_monitor {
 public:
  explicit live_monitor(monitor_options o = {});
  live_monitor(const live_monitor&) = delete;
  live_monitor& operator=(const live_monitor&) = delete;
  ~live_monitor();

  metrics_registry& registry() noexcept { return registry_; }
  event_hub& events() noexcept { return hub_; }

  /// A fact about the run shown on the page ("partitions" -> "2"); later calls replace it.
  void set_info(std::string key, std::string value);
  /// The batch ALS validation RMSE to draw as a line beside the stream's.
  void set_baseline_rmse(double rmse);
  /// Reads model version, model age and posted ratings from `svc` (which must outlive
  /// this monitor's expositions) instead of from the batches.
  void watch(const query_service* svc);

  void on_batch(const batch_point& p);
  void on_checkpoint(std::string_view path);
  /// A line for the event log (a node lost, a recovery); `kind` labels its counter.
  void on_event(std::string_view kind, std::string_view text);
  /// The stream ended; `rmse`/`mae` of the final model when there is a validation set.
  void finish(std::optional<double> rmse, std::optional<double> mae);

  /// Counts an HTTP request (route is one of route_label's values).
  void record_request(std::string_view route, int status, double seconds);
  /// The metric label of a request path: a known route, or "other" (bounded cardinality).
  static std::string_view route_label(std::string_view path) noexcept;

  /// GET /, /metrics, /dashboard.json and the page's assets; nothing for other targets
  /// (/events is the server's, as it streams).
  std::optional<http_reply> handle(std::string_view method, std::string_view path);

  /// The whole state as JSON: info, points, status, log (what /dashboard.json answers).
  std::string state_json() const;

 private:
  /// A batch as the chart keeps it (NaN: not measured; written as null).
  struct chart_point {
    std::uint64_t batch, ratings_seen;
    double rmse, mae, latency_seconds, rate, elapsed_seconds, user_imbalance, item_imbalance;
  };
  static chart_point to_chart_point(const batch_point& p, double rate);
  static void append_json(std::string& out, const chart_point& p);

  std::string status_json_locked() const;
  void refresh_gauges();
  void count_edges_locked(const std::vector<edge_point>& edges);
  void count_shards_locked(const batch_point& p);
  /// Queues `event` for every client (under mutex_, so clients see events in order).
  void publish_locked(const std::string& event) { hub_.publish(event); }
  /// One `batch` event with the points not yet sent, and the current status.
  void publish_points_locked();
  /// The sender thread: publishes waiting points once event_interval has passed.
  void send_waiting();
  std::string shards_json_locked() const;
  std::string edges_json_locked() const;
  /// The version and age of the model queries see (with a query service), else of the
  /// last batch applied.
  struct served_model {
    std::uint64_t version;
    double age_seconds;
  };
  served_model served_model_locked() const;

  monitor_options opts_;
  metrics_registry registry_;
  event_hub hub_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable std::mutex mutex_;
  std::map<std::string, std::string> info_;
  std::optional<double> baseline_;
  std::deque<chart_point> points_;  ///< one per batch kept
  std::deque<std::string> log_;
  std::vector<edge_point> last_edges_;  ///< the last measured batch's edge traffic
  /// (messages, bytes) counters into registry_, by edge name.
  std::map<std::string, std::pair<metric_counter*, metric_counter*>, std::less<>> edge_counters_;
  /// Ratings per shard since the start (user owners, item owners), and of the last batch.
  std::vector<std::uint64_t> shard_total_[2], shard_last_[2];
  std::optional<std::size_t> in_flight_;
  std::vector<metric_counter*> shard_counters_[2];  ///< into registry_, by side and shard
  metric_gauge* imbalance_[2] = {nullptr, nullptr};
  const query_service* svc_ = nullptr;
  std::uint64_t last_batch_ = 0;
  std::uint64_t posted_seen_ = 0;
  std::optional<double> last_rmse_, last_mae_, final_rmse_, final_mae_;
  double last_rate_ = 0.0, last_latency_ = 0.0;
  std::chrono::steady_clock::time_point last_batch_at_{}, last_checkpoint_at_{};
  bool finished_ = false;

  // Handles into registry_ (stable for its lifetime).
  metric_counter *batches_, *ratings_, *checkpoints_, *posted_;
  metric_gauge *rmse_, *mae_, *rate_, *version_, *model_age_, *checkpoint_age_, *clients_,
    *training_, *model_users_, *model_items_, *model_rank_, *in_flight_gauge_;
  metric_histogram *batch_latency_, *query_latency_;

  // Points of batches applied but not yet sent to /events clients (none while nobody
  // follows), when the last batch event went out, and the thread that sends what waits.
  std::vector<chart_point> unsent_;
  std::chrono::steady_clock::time_point last_published_{};
  bool stopping_ = false;
  std::condition_variable points_waiting_;
  std::thread sender_;  // last: it starts once everything above is built
};

}  // namespace recflow::serve
