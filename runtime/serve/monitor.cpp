#include "recflow/serve/monitor.hpp"

#include <cmath>

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

std::string live_monitor::point_json(const batch_point& p, double rate) const {
  return dump(json::array({p.batch, p.ratings_seen,
                           p.evaluated ? number_or_null(p.rmse) : json(nullptr),
                           p.evaluated ? number_or_null(p.mae) : json(nullptr),
                           number_or_null(p.latency_seconds), number_or_null(rate),
                           number_or_null(p.elapsed_seconds),
                           p.user_shards.empty() ? json(nullptr) : json(max_over_mean(p.user_shards)),
                           p.item_shards.empty() ? json(nullptr) : json(max_over_mean(p.item_shards))}));
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
  count_edges(p.edges);
  count_shards(p);
  auto point = point_json(p, rate);
  std::string event;
  {
    std::lock_guard lock(mutex_);
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
      std::deque<std::string> kept;
      for (std::size_t i = 0; i + 1 < points_.size(); i += 2)
        kept.push_back(std::move(points_[i]));
      kept.push_back(std::move(points_.back()));
      points_ = std::move(kept);
    }
    if (!p.edges.empty())
      last_edges_ = p.edges;
    if (hub_.clients() == 0)
      return;  // nobody watches: no status to build
    event = sse_event("batch", "{\"point\":" + point + ",\"edges\":" + edges_json_locked()
                                 + ",\"shards\":" + shards_json_locked()
                                 + ",\"status\":" + status_json_locked() + "}");
  }
  hub_.publish(event);
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
  std::string event;
  {
    std::lock_guard lock(mutex_);
    log_.push_back(std::string(text.substr(0, 1000)));
    if (log_.size() > opts_.max_log)
      log_.pop_front();
    event = sse_event("log", dump(json{{"line", log_.back()}, {"kind", kind}}));
  }
  hub_.publish(event);
}

void live_monitor::finish(std::optional<double> rmse, std::optional<double> mae) {
  training_->set(0);
  if (!std::isnan(in_flight_gauge_->value()))
    in_flight_gauge_->set(0);
  std::string event;
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
    event = sse_event("end", "{\"status\":" + status_json_locked() + "}");
  }
  hub_.publish(event);
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
    points += points_[i];
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
