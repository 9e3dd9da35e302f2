#include "recflow/serve/monitor.hpp"

#include <cmath>

#include <pthread.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "recflow/serve/dashboard_assets.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::serve {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// A number, or null for NaN and infinities (JSON has neither).
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json number_or_null(const std::optional<double>& v) { return v ? number_or_null(*v) : json(nullptr); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// Latency buckets from 50 microseconds to about 100 seconds.
const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = exponential_buckets(0.00005, 2, 22);
  return b;
}

}  // namespace

live_monitor::live_monitor(monitor_options o) : opts_(o), hub_(o.events) {
  auto& r = registry_;
  batches_ = &r.counter("recflow_batches_applied_total", "Micro-batches applied to the model");
  ratings_ = &r.counter("recflow_ratings_applied_total", "Ratings trained on (posted ones included)");
  checkpoints_ = &r.counter("recflow_checkpoints_written_total", "Checkpoints written");
  posted_ = &r.counter("recflow_posted_ratings_total", "Ratings accepted by POST /ratings");
  rmse_ = &r.gauge("recflow_validation_rmse", "Validation RMSE of the last evaluation");
  mae_ = &r.gauge("recflow_validation_mae", "Validation MAE of the last evaluation");
  rate_ = &r.gauge("recflow_ratings_per_second", "Ratings per second of the last batch's update");
  version_ = &r.gauge("recflow_model_version", "Batches in the model queries see (or the last batch applied)");
  model_age_ = &r.gauge("recflow_model_age_seconds", "Seconds since that model was published");
  checkpoint_age_ = &r.gauge("recflow_checkpoint_age_seconds",
                             "Seconds since the last checkpoint was written (NaN before the first)");
  clients_ = &r.gauge("recflow_dashboard_clients", "Open /events connections");
  training_ = &r.gauge("recflow_training", "1 while the stream trains, 0 once it ended");
  model_users_ = &r.gauge("recflow_model_users", "Users in the model queries see (with a query service)");
  model_items_ = &r.gauge("recflow_model_items", "Items in the model queries see (with a query service)");
  model_rank_ = &r.gauge("recflow_model_rank", "Factor dimension of the model queries see (with a query service)");
  in_flight_gauge_ = &r.gauge("recflow_batches_in_flight",
                              "Batches handed over by the source and not yet applied when the last "
                              "one was, that one included (0 once the stream ended)");
  batch_latency_ = &r.histogram("recflow_batch_duration_seconds", "Update time of one micro-batch",
                                latency_buckets());
  query_latency_ = &r.histogram("recflow_query_duration_seconds",
                                "Time to answer /predict, /recommend and /similar", latency_buckets());
  rmse_->set(std::nan(""));
  mae_->set(std::nan(""));
  checkpoint_age_->set(std::nan(""));
  for (auto* g : {model_users_, model_items_, model_rank_})
    g->set(std::nan(""));  // known only with a query service
  in_flight_gauge_->set(std::nan(""));  // known only with an actor graph
  training_->set(1);
  r.on_collect([this] { refresh_gauges(); });
  // The sender takes no process signal (SIGTERM and SIGINT belong to whoever waits for
  // them, e.g. stop_signals): it starts with every signal blocked.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  sender_ = std::thread([this] { send_waiting(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

live_monitor::~live_monitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  points_waiting_.notify_one();
  sender_.join();
}

void live_monitor::set_info(std::string key, std::string value) {
  std::lock_guard lock(mutex_);
  info_[std::move(key)] = std::move(value);
}

void live_monitor::set_baseline_rmse(double rmse) {
  std::lock_guard lock(mutex_);
  baseline_ = rmse;
}

void live_monitor::watch(const query_service* svc) {
  std::lock_guard lock(mutex_);
  svc_ = svc;
}

live_monitor::chart_point live_monitor::to_chart_point(const batch_point& p, double rate) {
  const double none = std::nan("");
  return {.batch = p.batch, .ratings_seen = p.ratings_seen,
          .rmse = p.evaluated ? p.rmse : none, .mae = p.evaluated ? p.mae : none,
          .latency_seconds = p.latency_seconds, .rate = rate, .elapsed_seconds = p.elapsed_seconds,
          .user_imbalance = p.user_shards.empty() ? none : max_over_mean(p.user_shards),
          .item_imbalance = p.item_shards.empty() ? none : max_over_mean(p.item_shards)};
}

/// [batch, ratings seen, rmse, mae, latency, rate, elapsed, user max/mean, item max/mean]
void live_monitor::append_json(std::string& out, const chart_point& p) {
  out += dump(json::array({p.batch, p.ratings_seen, number_or_null(p.rmse), number_or_null(p.mae),
                           number_or_null(p.latency_seconds), number_or_null(p.rate),
                           number_or_null(p.elapsed_seconds), number_or_null(p.user_imbalance),
                           number_or_null(p.item_imbalance)}));
}

void live_monitor::on_batch(const batch_point& p) {
  batches_->add();
  ratings_->add(double(p.ratings));
  batch_latency_->observe(p.latency_seconds);
  double rate = p.latency_seconds > 0 ? double(p.ratings) / p.latency_seconds : 0.0;
  rate_->set(rate);
  if (p.evaluated) {
    rmse_->set(p.rmse);
    mae_->set(p.mae);
  }
  if (p.in_flight)
    in_flight_gauge_->set(double(*p.in_flight));
  auto point = to_chart_point(p, rate);
  std::lock_guard lock(mutex_);
  count_edges_locked(p.edges);
  count_shards_locked(p);
  last_batch_ = p.batch;
  last_batch_at_ = clock_type::now();
  last_rate_ = rate;
  last_latency_ = p.latency_seconds;
  if (p.evaluated) {
    last_rmse_ = p.rmse;
    last_mae_ = p.mae;
  }
  points_.push_back(point);
  if (points_.size() > opts_.max_history) {  // thin: keep every other point but the last
    std::deque<chart_point> kept;
    for (std::size_t i = 0; i + 1 < points_.size(); i += 2)
      kept.push_back(points_[i]);
    kept.push_back(points_.back());
    points_ = std::move(kept);
  }
  if (!p.edges.empty())
    last_edges_ = p.edges;
  if (hub_.clients() == 0) {
    unsent_.clear();  // nobody watches: nothing to send
    return;
  }
  unsent_.push_back(point);
  if (last_batch_at_ - last_published_ >= opts_.event_interval || unsent_.size() >= opts_.max_points_per_event)
    publish_points_locked();
  else if (unsent_.size() == 1)
    points_waiting_.notify_one();  // the sender publishes it when the interval has passed
}

void live_monitor::publish_points_locked() {
  if (unsent_.empty())
    return;
  // "point" (the last one) stays for clients written before "points" carried them all.
  std::string data = "{\"point\":";
  append_json(data, unsent_.back());
  data += ",\"points\":[";
  for (std::size_t i = 0; i < unsent_.size(); ++i) {
    if (i > 0)
      data += ',';
    append_json(data, unsent_[i]);
  }
  data += "],\"edges\":" + edges_json_locked() + ",\"shards\":" + shards_json_locked()
          + ",\"status\":" + status_json_locked() + "}";
  unsent_.clear();
  last_published_ = clock_type::now();
  publish_locked(sse_event("batch", data));
}

void live_monitor::send_waiting() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (unsent_.empty()) {
      points_waiting_.wait(lock);
      continue;
    }
    auto due = last_published_ + opts_.event_interval;
    if (clock_type::now() < due) {
      points_waiting_.wait_until(lock, due);
      continue;
    }
    publish_points_locked();
  }
}

void live_monitor::on_checkpoint(std::string_view path) {
  checkpoints_->add();
  std::lock_guard lock(mutex_);
  last_checkpoint_at_ = clock_type::now();
  info_["last checkpoint"] = std::string(path);
}

void live_monitor::on_event(std::string_view kind, std::string_view text) {
  registry_.counter("recflow_events_total",
                    "Lines of the event log by kind (recovery: a node lost and its shards "
                    "restored; node: a node's own events; sweep: a batch ALS sweep)",
                    {{"kind", std::string(kind)}})
    .add();
  {
    std::lock_guard lock(mutex_);
    log_.push_back(std::string(text.substr(0, 1000)));
    if (log_.size() > opts_.max_log)
      log_.pop_front();
    publish_points_locked();  // the batches before this line, first
    publish_locked(sse_event("log", dump(json{{"line", log_.back()}, {"kind", kind}})));
  }
}

void live_monitor::finish(std::optional<double> rmse, std::optional<double> mae) {
  training_->set(0);
  if (!std::isnan(in_flight_gauge_->value()))
    in_flight_gauge_->set(0);
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
    if (in_flight_)
      in_flight_ = 0;
    final_rmse_ = rmse;
    final_mae_ = mae;
    if (rmse)
      rmse_->set(*rmse);
    if (mae)
      mae_->set(*mae);
    publish_points_locked();  // the last batches, before the end
    publish_locked(sse_event("end", "{\"status\":" + status_json_locked() + "}"));
  }
}

std::string_view live_monitor::route_label(std::string_view path) noexcept {
  static constexpr std::string_view known[] = {
    "/predict", "/recommend", "/similar", "/ratings", "/health", "/model",
    "/metrics", "/events", "/dashboard.json", "/"};
  for (auto k : known)
    if (path == k)
      return k;
  for (const auto& a : dashboard_assets())
    if (path == a.path)
      return "/assets";
  return "other";
}

void live_monitor::record_request(std::string_view route, int status, double seconds) {
  metric_labels by_route{{"route", std::string(route)}};
  registry_.counter("recflow_http_requests_total", "HTTP requests answered, by route and status",
                    {{"route", std::string(route)}, {"status", std::to_string(status)}})
    .add();
  registry_.histogram("recflow_http_request_duration_seconds", "Time to answer an HTTP request",
                      latency_buckets(), by_route)
    .observe(seconds);
  if (route == "/predict" || route == "/recommend" || route == "/similar")
    query_latency_->observe(seconds);
}

void live_monitor::refresh_gauges() {
  clients_->set(double(hub_.clients()));
  std::lock_guard lock(mutex_);
  auto served = served_model_locked();
  version_->set(double(served.version));
  model_age_->set(served.age_seconds);
  if (svc_) {
    if (auto s = svc_->snapshot(); s && s->model) {
      model_users_->set(double(s->model->n_users()));
      model_items_->set(double(s->model->n_items()));
      model_rank_->set(double(s->model->rank()));
    }
    auto posted = svc_->posted_ratings();
    posted_->add(double(posted - std::min(posted, posted_seen_)));
    posted_seen_ = std::max(posted_seen_, posted);
  }
  if (checkpoints_->value() > 0)
    checkpoint_age_->set(seconds_since(last_checkpoint_at_));
}

live_monitor::served_model live_monitor::served_model_locked() const {
  if (svc_)
    if (auto s = svc_->snapshot())
      return {s->version,
              std::chrono::duration<double>(std::chrono::system_clock::now() - s->published).count()};
  return {last_batch_, last_batch_ > 0 ? seconds_since(last_batch_at_) : seconds_since(started_)};
}

std::string live_monitor::edges_json_locked() const {
  auto edges = json::array();
  for (const auto& e : last_edges_)
    edges.push_back(json{{"name", e.name}, {"messages", e.messages}, {"bytes", e.bytes}});
  return dump(edges);
}

std::string live_monitor::status_json_locked() const {
  auto [version, age] = served_model_locked();
  std::uint64_t posted = svc_ ? svc_->posted_ratings() : 0;
  auto q = query_latency_->snapshot();
  return dump(json{{"batches", last_batch_},
                   {"ratings_per_second", number_or_null(last_rate_)},
                   {"latency_seconds", number_or_null(last_latency_)},
                   {"rmse", number_or_null(last_rmse_)},
                   {"mae", number_or_null(last_mae_)},
                   {"version", version},
                   {"model_age_seconds", number_or_null(age)},
                   {"posted_ratings", posted},
                   {"queries", q.count},
                   {"query_p50_seconds", number_or_null(query_latency_->quantile(0.5))},
                   {"query_p99_seconds", number_or_null(query_latency_->quantile(0.99))},
                   {"checkpoints", std::uint64_t(checkpoints_->value())},
                   {"clients", hub_.clients()},
                   {"uptime_seconds", seconds_since(started_)},
                   {"finished", finished_},
                   {"final_rmse", number_or_null(final_rmse_)},
                   {"final_mae", number_or_null(final_mae_)}});
}

std::string live_monitor::state_json() const {
  std::lock_guard lock(mutex_);
  std::string points = "[";
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (i > 0)
      points += ',';
    append_json(points, points_[i]);
  }
  points += ']';
  json info = json::object();
  for (const auto& [k, v] : info_)
    info[k] = v;
  json log = json::array();
  for (const auto& l : log_)
    log.push_back(l);
  return "{\"info\":" + dump(info) + ",\"baseline_rmse\":" + dump(number_or_null(baseline_))
         + ",\"points\":" + points + ",\"edges\":" + edges_json_locked() + ",\"shards\":" + shards_json_locked()
         + ",\"log\":" + dump(log) + ",\"status\":" + status_json_locked() + "}";
}

std::optional<http_reply> live_monitor::handle(std::string_view method, std::string_view path) {
  bool known = path == "/metrics" || path == "/dashboard.json";
  for (const auto& a : dashboard_assets())
    known = known || path == a.path;
  if (!known)
    return std::nullopt;
  if (method != "GET" && method != "HEAD")
    return http_reply{405, "application/json", "{\"error\":\"use GET for " + std::string(path) + "\"}"};
  if (path == "/metrics")
    return http_reply{200, "text/plain; version=0.0.4; charset=utf-8", registry_.expose()};
  if (path == "/dashboard.json")
    return http_reply{200, "application/json", state_json()};
  for (const auto& a : dashboard_assets())
    if (path == a.path)
      return http_reply{200, std::string(a.content_type), std::string(a.body), true};
  return std::nullopt;
}

}  // namespace recflow::serve
