#include "recflow/job/stream_serving.hpp"

#include <cstdlib>
#include <iostream>

namespace recflow {

stream_serving::stream_serving(const serve::service_options& service, model_metadata metadata)
    : signals_(std::make_unique<stop_signals>([this] { on_signal(); })),
      svc_(service, std::move(metadata.entries)),
      link_(svc_) {}

void stream_serving::on_signal() {
  // The first signal ends the stream at the next batch boundary, which waits for the
  // source's next batch: a live source that is quiet may never send one. A second signal
  // ends the process at once; checkpoints are written atomically, so the newest one
  // stays the point a --resume continues from.
  if (link_.stop_requested() && !finished_.load()) {
    std::cerr << "recflow: second signal: exiting now, without a final checkpoint" << std::endl;
    std::_Exit(130);
  }
  link_.request_stop();
}

stream_serving::~stream_serving() {
  if (monitor_)
    monitor_->watch(nullptr);  // a --metrics server may outlive svc_
  signals_.reset();
  if (server_)
    server_->stop();
}

result<std::unique_ptr<stream_serving>> stream_serving::start(const std::string& listen,
                                                              const serve::service_options& service,
                                                              const serve::http_options& http,
                                                              int rank, rating_scale scale,
                                                              std::shared_ptr<const factor_model> seed,
                                                              serve::live_monitor* monitor,
                                                              model_metadata metadata) {
  auto where = serve::parse_listen(listen);
  if (!where)
    return where.err();
  if (auto ok = serve::validate(service); !ok)
    return ok.err();
  std::unique_ptr<stream_serving> s(new stream_serving(service, std::move(metadata)));
  if (seed) {
    s->link_.seed_rated(*seed);
    s->svc_.publish(std::move(seed), 0, 0);
  } else {
    s->svc_.publish(std::make_shared<const factor_model>(rank, scale), 0, 0);
  }
  auto at = http;
  at.host = where->host;
  at.port = where->port;
  auto server = serve::http_server::start(serve::http_routes{.queries = &s->svc_, .monitor = monitor}, at);
  if (!server)
    return server.err();
  s->server_ = std::move(*server);
  if (monitor) {
    s->monitor_ = monitor;
    monitor->watch(&s->svc_);
  }
  std::cerr << "recflow: serving on http://" << s->server_->address() << " while training"
            << std::endl;
  return s;
}

void stream_serving::attach(stream_job_options& so) {
  so.wrap_source = [this](std::shared_ptr<rating_source> inner) { return link_.wrap(std::move(inner)); };
  so.on_model = [this](std::uint64_t batch, factor_model&& m) { link_.on_model(batch, std::move(m)); };
  so.on_resume = [this](const factor_model& m, const stream_mark& mark) {
    link_.seed_rated(m);
    link_.start_at(mark.batches);
    svc_.publish(std::make_shared<const factor_model>(m), mark.batches, mark.ratings);
  };
}

void stream_serving::attach(implicit_stream_job_options& so) {
  so.wrap_source = [this](std::shared_ptr<rating_source> inner) { return link_.wrap(std::move(inner)); };
  so.on_model = [this](std::uint64_t batch, factor_model&& m) { link_.on_model(batch, std::move(m)); };
}

void stream_serving::finish_indexed(factor_model model, std::uint64_t batches) {
  finished_.store(true);
  link_.on_model(batches, std::move(model));
  link_.flush();
  svc_.set_rating_sink({});  // the stream is over: posted ratings are only folded in now
  svc_.set_training(false);
}

void stream_serving::finish(const factor_model& model, std::uint64_t batches,
                            std::uint64_t ratings_seen) {
  finished_.store(true);
  link_.flush();
  svc_.set_rating_sink({});  // the stream is over: posted ratings are only folded in now
  // The final model first: a client that sees training end must see the model it ended
  // with (with --publish-interval the last model published may be batches behind).
  svc_.publish(std::make_shared<const factor_model>(model), batches, ratings_seen);
  svc_.set_training(false);
}

void stream_serving::linger(double seconds) {
  if (!signals_->stopped() && seconds != 0) {
    std::cerr << "recflow: stream ended; serving the final model on http://" << address()
              << (seconds < 0 ? " until SIGINT/SIGTERM" : "") << std::endl;
    signals_->wait(std::chrono::milliseconds(seconds < 0 ? -1 : static_cast<long>(seconds * 1000)));
  }
  server_->stop();
}

}  // namespace recflow
