/// What a streaming run shows while it runs: a live_monitor (serve/monitor.hpp) fed by the
/// job's hooks, served on --serve's server and, with `--metrics HOST:PORT`, on a server of
/// its own that answers only /metrics, the dashboard and its events.
///
///   auto mon = stream_monitoring::make(true);   // before any thread starts
///   mon->attach(job);                            // after the job is configured
///   mon->listen("127.0.0.1:0", {});              // after stream_serving::start, if any
///   auto run = run_stream_job(job, on_batch);
///   mon->finish(rmse, mae);
///   mon->linger(-1);                             // --metrics alone: until SIGINT/SIGTERM
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "recflow/engine/stream_job.hpp"
#include "recflow/job/stop_signals.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"

namespace recflow {

class stream_monitoring {
 public:
  /// With `own_signals` (a --metrics server and no --serve, whose stream_serving takes
  /// them), SIGINT and SIGTERM are taken here: while the stream runs they end the process
  /// (status 130) as they would without a server; afterwards they end linger(). Construct
  /// before any other thread starts.
  static std::unique_ptr<stream_monitoring> make(bool own_signals);
  ~stream_monitoring();
  stream_monitoring(const stream_monitoring&) = delete;
  stream_monitoring& operator=(const stream_monitoring&) = delete;

  serve::live_monitor& monitor() noexcept { return monitor_; }

  /// Describes the run on the page and routes the job's per-batch measurements,
  /// checkpoints and node events into the monitor (and watches its live source, if set).
  void attach(stream_job_options& job);
  /// Shows `source`'s backlog (a Redis consumer group's pending and unread entries) on
  /// /metrics and the page: for a source given to the job after attach().
  void watch_source(std::shared_ptr<rating_source> source) { source_ = std::move(source); }
  /// A batch the reference loop reported (it has no engine measurements: no edge traffic).
  void on_report(const stream_report& r);
  /// Starts the --metrics server on `listen` (host and port; http's other fields apply).
  result<void> listen(const std::string& listen, const serve::http_options& http);
  /// The stream ended; the final model's validation error when there is a validation set.
  void finish(std::optional<double> rmse, std::optional<double> mae);
  /// Keeps the --metrics server up `seconds` (negative: until SIGINT/SIGTERM), then stops it.
  void linger(double seconds);
  /// "HOST:PORT" of the --metrics server ("" without).
  std::string address() const { return server_ ? server_->address() : std::string(); }

 private:
  stream_monitoring() = default;
  /// Shows where the source stands and, for a replay or a Redis stream, its position or lag.
  void note_position(const std::string& position);
  /// For a broker source (Redis): its pending and unread entries, asking the broker only
  /// when the last answer is older than `max_age`.
  void note_backlog(std::chrono::milliseconds max_age);

  std::unique_ptr<stop_signals> signals_;  ///< first: blocks the signals before any thread
  std::atomic<bool> finished_{false};
  serve::live_monitor monitor_;
  std::unique_ptr<serve::http_server> server_;  ///< after monitor_: it serves it
  std::size_t nodes_ = 0, lost_ = 0;            ///< on the engine's event thread only
  std::uint64_t reported_ratings_ = 0;          ///< ratings_seen of the last on_report
  std::shared_ptr<rating_source> source_;       ///< a live source (for its backlog)
};

}  // namespace recflow
