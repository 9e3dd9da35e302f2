#include "recflow/engine/coordinator.hpp"

#include <algorithm>
#include <utility>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/engine/snapshot.hpp"

namespace recflow {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Whole-run figures from the seconds it took.
void time_run(run_summary& sum, double seconds) {
  sum.seconds = seconds;
  sum.ratings_per_second = seconds > 0 ? double(sum.ratings) / seconds : 0.0;
}
}  // namespace

std::optional<result<error_metrics>> round_driver::evaluate_in_place(
  const batch_stamp&, const std::vector<const shard_store*>&, const std::function<void()>&) {
  return std::nullopt;
}

void round_driver::checkpoint(const stream_point&, factor_model, bool) {}

coordinator::coordinator(streaming_graph g, const coordinator_options& o, round_driver& driver)
    : graph_(std::move(g)), opts_(o), driver_(&driver), publish_(graph_.publish_interval) {
  if (graph_.seed_model) {
    mu_ = graph_.seed_model->mu();
    mu_count_ = graph_.seed_model->mu_count();
  }
}

std::uint64_t coordinator::current_batch() const noexcept {
  return in_flight_.empty() ? completed_ + 1 : in_flight_.begin()->first + 1;
}

void coordinator::fail(error e) {
  if (!broken_)
    broken_ = std::move(e);
}

result<run_summary> coordinator::drive(std::size_t limit, const stop_predicate& stop,
                                       const batch_callback& on_batch) {
  if (broken_)
    return *broken_;
  // A drive from a callback of this one (a snapshot that replays) has its own run.
  auto outer = std::exchange(run_, run_state{});
  run_.limit = limit;
  run_.stop_when = stop ? &stop : nullptr;
  run_.on_batch = on_batch ? &on_batch : nullptr;
  auto start = clock::now();
  for (;;) {
    fill();
    run_.sum.max_in_flight_seen = std::max(run_.sum.max_in_flight_seen, in_flight_.size() + pulls_);
    if ((in_flight_.empty() && pulls_ == 0 && backlog_.empty()) || broken_)
      break;
    driver_->wait();
  }
  auto done = std::exchange(run_, std::move(outer));
  time_run(done.sum, seconds_since(start));
  done.sum.end_of_stream = ended_;
  if (broken_)
    return *broken_;
  if (done.failed) {
    ended_ = true;  // the stream is over; the model holds every batch that completed
    return *done.failed;
  }
  return done.sum;
}

/// Routes the batches to route again first (they were started before), then pulls while
/// there is room and the run wants more.
bool coordinator::holding() const noexcept {
  return opts_.hold_after_snapshot
         && std::any_of(in_flight_.begin(), in_flight_.end(),
                        [](const auto& f) { return f.second.stamp.snapshot; });
}

void coordinator::fill() {
  while (!broken_ && !backlog_.empty() && !holding()
         && in_flight_.size() + pulls_ < opts_.max_in_flight) {
    auto b = std::move(backlog_.front());
    backlog_.pop_front();
    route(std::move(b));
  }
  while (backlog_.empty() && !ended_ && !run_.failed && !run_.stop && !broken_
         && run_.started + pulls_ < run_.limit && in_flight_.size() + pulls_ < opts_.max_in_flight) {
    driver_->pull();
    ++pulls_;
  }
}

/// The source answered one pull (an answer no pull asked for changes nothing).
void coordinator::answered() {
  if (pulls_ > 0)
    --pulls_;
}

void coordinator::on_pulled(rating_batch b) {
  answered();
  ++run_.started;
  if (backlog_.empty() && !holding())
    route(std::move(b));
  else
    backlog_.push_back(std::move(b));  // after the batches routed again, or the hold
}

void coordinator::on_end() {
  answered();
  ended_ = true;
}

void coordinator::on_source_failed(error e) {
  answered();
  if (!run_.failed)
    run_.failed = std::move(e);
}

/// Serving: at most one model per publish_interval (0: every batch), decided when the
/// batch is routed, so the owners know to hold (or copy) after it.
bool coordinator::wants_publish(clock::time_point now) {
  return graph_.on_model && publish_.due(now);
}

void coordinator::route(rating_batch b) {
  batch_stamp st;
  st.batch = stamped_++;
  st.offset = offset_;
  mu_ = fold_mean(mu_, mu_count_, b);
  st.mu = mu_;
  st.mu_count = mu_count_;
  flight f;
  f.start = clock::now();
  f.evaluate = graph_.evaluation && (st.batch + 1) % graph_.evaluation->every == 0;
  f.publish = wants_publish(f.start);
  f.checkpoint = opts_.checkpoint_every > 0 && (st.batch + 1) % opts_.checkpoint_every == 0;
  st.snapshot = f.evaluate || f.publish || f.checkpoint;
  offset_ += b.size();
  f.stamp = st;
  f.m.batch = st.batch + 1;
  f.m.ratings = b.size();
  f.m.ratings_seen = offset_;
  f.m.position = b.position;
  f.user_done.assign(graph_.partitions, 0);
  f.item_done.assign(graph_.partitions, 0);
  f.m.user_shard_ratings.assign(graph_.partitions, 0);
  f.m.item_shard_ratings.assign(graph_.partitions, 0);
  auto& src_edge = f.m.edges[std::size_t(edge_index::source_to_partition)];
  src_edge.messages = 1;
  src_edge.bytes = sizeof(stamped_batch) + b.size() * sizeof(rating_event);
  in_flight_.insert_or_assign(st.batch, std::move(f));
  driver_->send(st, std::move(b));
}

/// A message that names a batch no flight holds (a stale or hostile one) breaks the job
/// instead of indexing past the map.
coordinator::flight* coordinator::find(std::uint64_t batch, const char* what) {
  auto it = in_flight_.find(batch);
  if (it != in_flight_.end())
    return &it->second;
  fail(error{errc::corrupt, std::string("unexpected ") + what + " for batch "
                              + std::to_string(batch + 1)});
  return nullptr;
}

void coordinator::on_routed(const partition_done& d) {
  auto* f = find(d.batch, "partition report");
  if (!f)
    return;
  f->routed = true;
  f->m.edges[std::size_t(edge_index::partition_to_users)] = d.to_users;
  f->m.edges[std::size_t(edge_index::partition_to_items)] = d.to_items;
  try_complete(d.batch);
}

void coordinator::on_owner_done(const owner_done& d) {
  auto* f = find(d.batch, "owner report");
  if (!f)
    return;
  if (!is_side(d.side)) {
    fail(error{errc::corrupt, "a malformed owner report for batch " + std::to_string(d.batch + 1)});
    return;
  }
  auto& done = d.side == side::user ? f->user_done : f->item_done;
  if (d.shard >= done.size() || done[d.shard]) {
    fail(error{errc::corrupt, "a malformed owner report for batch " + std::to_string(d.batch + 1)});
    return;
  }
  done[d.shard] = 1;
  ++f->owners_done;
  f->m.owner_busy_seconds += d.busy_seconds;
  (d.side == side::user ? f->m.user_shard_ratings : f->m.item_shard_ratings)[d.shard] = d.ratings;
  auto e = d.side == side::user ? edge_index::users_to_items : edge_index::items_to_users;
  f->m.edges[std::size_t(e)] += d.sent;
  try_complete(d.batch);
}

void coordinator::on_parts(shard_parts p) {
  if (p.batch == 0 || !is_side(p.side) || p.shard >= graph_.partitions) {
    fail(error{errc::corrupt, "a malformed snapshot part"});
    return;
  }
  // Owners count the batches they applied; after a rewind they start at batch_base_.
  auto batch = batch_base_ + p.batch - 1;
  auto* f = find(batch, "snapshot part");
  if (!f || !first_shard(*f, p.side, p.shard))
    return;
  (p.side == side::user ? f->users : f->items).push_back(std::move(p));
  try_complete(batch);
}

void coordinator::on_view(const shard_view& v) {
  if (v.batch == 0 || !is_side(v.side) || v.shard >= graph_.partitions || !v.store) {
    fail(error{errc::corrupt, "a malformed shard view"});
    return;
  }
  auto batch = batch_base_ + v.batch - 1;  // viewed after applying batch number v.batch
  auto* f = find(batch, "shard view");
  if (!f || !first_shard(*f, v.side, v.shard))
    return;
  (v.side == side::user ? f->user_views : f->item_views).push_back(v);
  try_complete(batch);
}

/// Whether `f` has no shard of (`side`, `shard`) yet, as a copy or a view; a second one
/// breaks the job.
bool coordinator::first_shard(const flight& f, recflow::side side, std::uint32_t shard) {
  auto same = [&](const auto& x) { return x.shard == shard; };
  bool seen = side == side::user ? std::ranges::any_of(f.users, same) || std::ranges::any_of(f.user_views, same)
                        : std::ranges::any_of(f.items, same) || std::ranges::any_of(f.item_views, same);
  if (seen)
    fail(error{errc::corrupt, "a second snapshot of " + std::string(to_string(side))
                                + " shard " + std::to_string(shard) + " for batch "
                                + std::to_string(f.m.batch)});
  return !seen;
}

/// Completes `batch` once the partition step and every owner have reported (and, after a
/// snapshot batch, every shard has been sent).
void coordinator::try_complete(std::uint64_t batch) {
  auto it = in_flight_.find(batch);
  if (it == in_flight_.end())
    return;
  auto& f = it->second;
  auto owners = 2 * graph_.partitions;
  if (!f.routed || f.owners_done != owners)
    return;
  if (f.stamp.snapshot && (f.users.size() + f.user_views.size() != graph_.partitions
                           || f.items.size() + f.item_views.size() != graph_.partitions))
    return;
  f.m.latency_seconds = seconds_since(f.start);
  f.m.ratings_per_second =
    f.m.latency_seconds > 0 ? double(f.m.ratings) / f.m.latency_seconds : 0.0;
  if (f.stamp.snapshot)
    after_snapshot(f);
  f.m.in_flight = in_flight_.size() + backlog_.size();  // this batch included
  auto m = std::move(f.m);
  in_flight_.erase(it);
  record(m);
  graph_.source->applied(m.position);  // every owner has applied it: a broker may ack
  report(m);
}

void coordinator::record(const batch_metrics& m) {
  completed_ = m.batch;
  history_.push_back(m);
  if (opts_.history_limit > 0 && history_.size() >= 2 * opts_.history_limit)
    history_.erase(history_.begin(), history_.end() - std::ptrdiff_t(opts_.history_limit));
}

void coordinator::report(const batch_metrics& m) {
  if (m.batch <= reported_)
    return;  // completed again after a rewind: reported the first time
  reported_ = m.batch;
  run_.sum.batches += 1;
  run_.sum.ratings += m.ratings;
  if (run_.on_batch)
    (*run_.on_batch)(m);
  if (run_.stop_when && (*run_.stop_when)(m))
    run_.stop = true;
}

/// The step after a snapshot batch, while nothing of it has been released: evaluation,
/// then the model for on_model and the checkpoint. Shards held in place are evaluated
/// where they are if the driver can (the local engine's owners), and a model that is
/// needed is assembled from them there (no copy of a shard beside the model) before they
/// are released.
void coordinator::after_snapshot(flight& f) {
  bool held = !f.user_views.empty() || !f.item_views.empty();
  bool evaluated = false;
  bool released = false;
  if (f.evaluate && held) {
    std::vector<const shard_store*> items(graph_.partitions, nullptr);
    for (const auto& view : f.item_views)
      items[view.shard] = view.store;
    // The owners may go on once they have read the shards (round_driver), unless the
    // model is wanted too (copied below while they hold).
    auto read = [&] {
      if (!f.publish && !f.checkpoint && !released) {
        driver_->release();
        released = true;
      }
    };
    if (auto em = driver_->evaluate_in_place(f.stamp, items, read)) {
      evaluated = true;
      if (*em) {
        f.m.rmse = (*em)->rmse;
        f.m.mae = (*em)->mae;
      } else {
        fail(em->err());
      }
    }
  }
  bool wants_model = f.publish || f.checkpoint || (f.evaluate && !evaluated);
  std::optional<result<factor_model>> assembled;
  if (held) {
    if (wants_model)  // assembled from the shards where they are, while the owners hold
      assembled = assemble_model(graph_.training.rank, graph_.scale, f.stamp.mu,
                                 f.stamp.mu_count, columns(f.user_views), columns(f.item_views));
    if (!released)
      driver_->release();
  }
  if (!wants_model)
    return;
  auto model = assembled ? std::move(*assembled)
                         : assemble_model(graph_.training.rank, graph_.scale, f.stamp.mu,
                                          f.stamp.mu_count, f.users, f.items);
  if (!model) {
    fail(model.err());
    return;
  }
  if (f.evaluate && !evaluated) {
    const auto& v = *graph_.evaluation->validation;
    auto em = evaluate(*model, v.ratings, v.users, v.items);
    f.m.rmse = em.rmse;
    f.m.mae = em.mae;
  }
  hand_over(f, std::move(*model));
}

/// The model after `f`'s batch to on_model and to the driver's checkpoint.
void coordinator::hand_over(flight& f, factor_model model) {
  if (f.publish && f.checkpoint)
    graph_.on_model(f.m.batch, factor_model(model));
  else if (f.publish)
    graph_.on_model(f.m.batch, std::move(model));
  if (f.checkpoint)
    driver_->checkpoint(stream_point{.batches = f.m.batch, .ratings = f.m.ratings_seen,
                                     .mu = f.stamp.mu, .mu_count = f.stamp.mu_count,
                                     .position = f.m.position},
                        std::move(model), f.m.batch > reported_);
}

void coordinator::rewind(const stream_point& p, std::deque<rating_batch> again) {
  in_flight_.clear();
  for (auto& b : backlog_)
    again.push_back(std::move(b));
  backlog_ = std::move(again);
  mu_ = p.mu;
  mu_count_ = p.mu_count;
  offset_ = p.ratings;
  stamped_ = p.batches;
  batch_base_ = p.batches;
  completed_ = p.batches;
  std::erase_if(history_, [&](const batch_metrics& m) { return m.batch > p.batches; });
}

result<factor_model> coordinator::assemble(const std::vector<shard_parts>& users,
                                           const std::vector<shard_parts>& items) const {
  return assemble_model(graph_.training.rank, graph_.scale, mu_, mu_count_, users, items);
}

result<factor_model> coordinator::assemble(const std::vector<shard_columns>& users,
                                           const std::vector<shard_columns>& items) const {
  return assemble_model(graph_.training.rank, graph_.scale, mu_, mu_count_, users, items);
}

}  // namespace recflow
