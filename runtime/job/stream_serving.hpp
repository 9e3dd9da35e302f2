/// `recflow stream --serve HOST:PORT`: a query service and an HTTP server beside the
/// training stream. A batch's model is published as it completes, at most every
/// --publish-interval ms (the final model always); ratings POSTed to
/// /ratings join the next micro-batch; SIGINT or SIGTERM ends the stream at the next
/// batch boundary (the run then finishes as usual: final metrics, --save, --json); a
/// second one, while the stream still waits for its source, exits at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "recflow/engine/stream_job.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "recflow/job/stop_signals.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"
#include "recflow/serve/stream_link.hpp"

namespace recflow {

class stream_serving {
 public:
  /// Blocks the stop signals, publishes the model the stream starts from as version 0
  /// (`seed`, or an empty model of `rank` on `scale`) and starts listening on `listen`.
  /// Construct before any other thread starts.
  /// `http` gives the server's threads and body limit (its host and port come from
  /// `listen`).
  /// With a `monitor` (which must outlive this object) the server also answers /metrics,
  /// the dashboard and its events, and the monitor reads the model version from the service.
  /// `metadata` is what GET /model shows; an implicit trainer's ("implicit-stream") makes
  /// the service fold posted events in as implicit ALS does.
  static result<std::unique_ptr<stream_serving>> start(const std::string& listen,
                                                       const serve::service_options& service,
                                                       const serve::http_options& http, int rank,
                                                       rating_scale scale,
                                                       std::shared_ptr<const factor_model> seed = {},
                                                       serve::live_monitor* monitor = nullptr,
                                                       model_metadata metadata = {});
  /// Routes the job's source and models through the service; a resumed run's checkpoint
  /// model is published as the version of its batches, and later versions continue from it.
  void attach(stream_job_options& job);
  /// The same for streaming implicit ALS (no checkpoints, so no resume).
  void attach(implicit_stream_job_options& job);
  /// Publishes the final model (with its rated-items index) as version `batches`.
  void finish(const factor_model& model, std::uint64_t batches, std::uint64_t ratings_seen);
  /// The same for a model without a rated-items index: the index comes from the
  /// batches this link streamed (and the seed's or checkpoint's own index).
  void finish_indexed(factor_model model, std::uint64_t batches);
  /// Keeps serving the final model for `seconds` (negative: until SIGINT/SIGTERM), then stops.
  void linger(double seconds);
  std::string address() const { return server_->address(); }

 private:
  stream_serving(const serve::service_options& service, model_metadata metadata);
  /// SIGINT/SIGTERM: the first ends the stream at the next batch boundary; a second one
  /// while the stream still runs exits the process at once (status 130).
  void on_signal();
 public:
  ~stream_serving();

 private:
  /// First member: blocks the signals before the other members start threads; reset
  /// first in the destructor, so its handler never sees a destroyed link_.
  std::unique_ptr<stop_signals> signals_;
  serve::query_service svc_;
  serve::stream_link link_;
  std::unique_ptr<serve::http_server> server_;
  serve::live_monitor* monitor_ = nullptr;  ///< watches svc_ until this object goes
  std::atomic<bool> finished_{false};  ///< the stream has ended (finish() was called)
};

}  // namespace recflow
