#include "recflow/job/stream_monitoring.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <iostream>


namespace recflow {

namespace {

constexpr const char* edge_names[edge_count] = {
  "source_to_partition", "partition_to_users", "partition_to_items", "users_to_items",
  "items_to_users"};

/// Times `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace

std::unique_ptr<stream_monitoring> stream_monitoring::make(bool own_signals) {
  std::unique_ptr<stream_monitoring> m(new stream_monitoring());
  if (own_signals)
    m->signals_ = std::make_unique<stop_signals>([raw = m.get()] {
      if (!raw->finished_.load()) {  // as without a server: a signal ends the stream at once
        std::cerr << "recflow: signal received: exiting" << std::endl;
        std::_Exit(130);
      }
    });
  return m;
}

stream_monitoring::~stream_monitoring() {
  signals_.reset();
  if (server_)
    server_->stop();
}

void stream_monitoring::attach(stream_job_options& job) {
  auto& mon = monitor_;
  mon.set_info("rank", std::to_string(job.training.rank));
  mon.set_info("passes", std::to_string(job.training.passes));
  mon.set_info("partitions", std::to_string(job.partitions) + " (" + std::string(to_string(job.partitioner)) + ")");
  if (const auto* t = std::get_if<table_input>(&job.input))
    mon.set_info("batch size", std::to_string(t->batch_size));
  if (auto* n = std::get_if<on_nodes>(&job.where)) {
    nodes_ = n->nodes.size();
    std::string names;
    for (const auto& e : n->nodes)
      names += (names.empty() ? "" : ", ") + e.name();
    mon.set_info("nodes", names);
    auto& alive = mon.registry().gauge("recflow_nodes_alive", "Nodes hosting factor owners");
    alive.set(double(nodes_));
    auto& lost = mon.registry().gauge("recflow_nodes_lost", "Nodes lost since the run began");
    lost.set(0);
    auto previous = n->on_event;
    n->on_event = [this, previous, &alive, &lost](const std::string& line) {
      if (previous)
        previous(line);
      lost_ += occurrences(line, "lost node");
      alive.set(double(nodes_ - std::min(nodes_, lost_)));
      lost.set(double(lost_));
      monitor_.on_event("recovery", line);
    };
  }
  if (const auto* live = std::get_if<source_input>(&job.input))
    source_ = live->source;
  job.on_metrics = [this](const stream_report& r, const batch_metrics& m) {
    if (!m.position.empty())
      note_position(m.position);
    note_backlog(std::chrono::seconds(1));
    serve::batch_point p{.batch = r.batch, .ratings = m.ratings, .ratings_seen = r.ratings_seen,
                         .evaluated = r.evaluated, .rmse = r.rmse, .mae = r.mae,
                         .latency_seconds = m.latency_seconds, .elapsed_seconds = r.elapsed_seconds,
                         .user_shards = m.user_shard_ratings, .item_shards = m.item_shard_ratings,
                         .in_flight = m.in_flight};
    for (std::size_t e = 0; e < edge_count; ++e)
      if (m.edges[e].messages > 0)
        p.edges.push_back({edge_names[e], m.edges[e].messages, m.edges[e].bytes});
    monitor_.on_batch(p);
  };
  job.on_checkpoint = [this](const std::string& path) { monitor_.on_checkpoint(path); };
}

void stream_monitoring::note_position(const std::string& position) {
  monitor_.set_info("source position", position);
  auto& reg = monitor_.registry();
  // replay: "rating:N", the ratings replayed so far.
  if (position.starts_with("rating:")) {
    std::uint64_t n = 0;
    auto digits = std::string_view(position).substr(7);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), n).ec == std::errc{})
      reg.gauge("recflow_source_position_ratings", "replay: ratings of the file replayed so far")
        .set(double(n));
    return;
  }
  // Redis: an entry id "MS-SEQ", MS the time the entry was added: its age is the lag.
  auto dash = position.find('-');
  std::uint64_t ms = 0;
  if (dash == std::string::npos
      || std::from_chars(position.data(), position.data() + dash, ms).ec != std::errc{})
    return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  reg.gauge("recflow_source_lag_seconds",
            "Redis: seconds between adding the last applied entry to the stream and applying it")
    .set(double(std::int64_t(now) - std::int64_t(ms)) / 1000.0);
}

void stream_monitoring::note_backlog(std::chrono::milliseconds max_age) {
  if (!source_)
    return;
  auto b = source_->backlog(max_age);
  if (!b)
    return;
  auto& reg = monitor_.registry();
  reg.gauge("recflow_source_pending_entries",
            "Redis: entries delivered to the consumer group and not yet acknowledged (applied)")
    .set(double(b->pending));
  reg.gauge("recflow_source_unread_entries",
            "Redis 7+: entries of the stream not yet delivered to the consumer group (its lag)")
    .set(b->unread ? double(*b->unread) : std::nan(""));
  reg.gauge("recflow_source_failed_acks",
            "Redis: entries whose acknowledgement (XACK) failed; they are acknowledged again later")
    .set(double(b->failed_acks));
  reg.gauge("recflow_source_reconnects", "Redis: connections made again after one dropped")
    .set(double(b->reconnects));
  reg.gauge("recflow_source_claimed_entries",
            "Redis: entries taken over from other consumers of the group (XAUTOCLAIM)")
    .set(double(b->claimed));
  monitor_.set_info("source backlog", std::to_string(b->pending) + " entries pending, "
                                        + (b->unread ? std::to_string(*b->unread) : "?") + " unread");
}

void stream_monitoring::on_report(const stream_report& r) {
  note_backlog(std::chrono::seconds(1));
  monitor_.on_batch({.batch = r.batch, .ratings = r.ratings_seen - std::min(r.ratings_seen, reported_ratings_),
                     .ratings_seen = r.ratings_seen, .evaluated = r.evaluated, .rmse = r.rmse,
                     .mae = r.mae, .latency_seconds = r.batch_seconds,
                     .elapsed_seconds = r.elapsed_seconds});
  reported_ratings_ = r.ratings_seen;
}

result<void> stream_monitoring::listen(const std::string& listen, const serve::http_options& http) {
  auto server = serve::http_server::start_metrics(monitor_, listen, http);
  if (!server)
    return server.err();
  server_ = std::move(*server);
  return {};
}

void stream_monitoring::finish(std::optional<double> rmse, std::optional<double> mae) {
  finished_.store(true);
  note_backlog(std::chrono::milliseconds(0));  // every batch applied: the final numbers
  monitor_.finish(rmse, mae);
}

void stream_monitoring::linger(double seconds) {
  if (!server_)
    return;
  if (signals_ && !signals_->stopped() && seconds != 0) {
    std::cerr << "recflow: stream ended; metrics stay on http://" << address()
              << (seconds < 0 ? " until SIGINT/SIGTERM" : "") << std::endl;
    signals_->wait(std::chrono::milliseconds(seconds < 0 ? -1 : static_cast<long>(seconds * 1000)));
  }
  server_->stop();
}

}  // namespace recflow
