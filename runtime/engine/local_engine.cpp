#include "recflow/engine/local_engine.hpp"

#include <map>
#include <optional>

#include <caf/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/actors/partition.hpp"
#include "recflow/actors/shard_eval.hpp"
#include "recflow/actors/source.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/engine/snapshot.hpp"
#include "recflow/model/metrics.hpp"

namespace recflow {

result<void> validate(const engine_options& o) {
  if (o.workers == 0)
    return error{errc::invalid_argument, "workers must be positive, got 0"};
  if (o.max_in_flight == 0)
    return error{errc::invalid_argument, "max in-flight batches must be positive, got 0"};
  if (auto ok = validate(o.priority); !ok)
    return ok;
  if (o.stall_timeout.count() <= 0)
    return error{errc::invalid_argument, "stall timeout must be positive, got "
                                           + std::to_string(o.stall_timeout.count()) + " ms"};
  return {};
}

namespace {
using clock = std::chrono::steady_clock;

/// Lowers the priority of every thread the actor system starts (Linux: per thread).
class priority_hook : public caf::thread_hook {
 public:
  explicit priority_hook(thread_priority p) : priority_(p) {}
  void init(caf::actor_system&) override {}
  void thread_started() override { lower_thread_priority(priority_); }
  void thread_terminates() override {}

 private:
  thread_priority priority_;
};

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}
}  // namespace

struct local_engine::impl {
  /// A batch between routing and completion.
  struct flight {
    batch_metrics m;
    clock::time_point start;
    std::size_t owners_done = 0;
    bool routed = false;
    bool evaluate = false;  ///< evaluation is due after this batch
    bool publish = false;   ///< on_model gets the model after this batch
    batch_stamp stamp;
    std::vector<shard_parts> users, items;        ///< snapshot as copies (views off)
    std::vector<shard_view> user_views, item_views;  ///< snapshot in place; owners hold
  };

  streaming_graph graph;
  engine_options opts;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  caf::actor source, partition;
  std::vector<caf::actor> users, items;

  double mu = 0.0;
  std::uint64_t mu_count = 0;
  std::uint64_t offset = 0;
  std::uint64_t stamped = 0;
  bool ended = false;
  std::optional<error> broken;  ///< the graph cannot continue (an actor died, a stall)
  std::vector<batch_metrics> history;
  std::map<std::uint64_t, flight> in_flight;
  std::optional<clock::time_point> last_publish;  ///< when the last published batch was routed
  std::vector<shard_evaluation> eval_parts;  ///< the validation set by user shard (lazily)
  std::vector<double> eval_errors;           ///< one evaluation's errors, by position

  impl(streaming_graph g, const engine_options& o) : graph(std::move(g)), opts(o) {
    add_graph_message_types(cfg);
    cfg.set("scheduler.max-threads", opts.workers);
    if (opts.priority.lowered())
      cfg.add_thread_hook<priority_hook>(opts.priority);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    auto me = caf::actor_cast<caf::actor>(*self);
    auto n = static_cast<std::uint32_t>(graph.partitions);
    for (std::uint32_t s = 0; s < n; ++s)
      users.push_back(spawn_user_owner(*sys, s, n, graph.training, me, opts.frame_rows,
                                       opts.frame_rows));
    for (std::uint32_t t = 0; t < n; ++t)
      items.push_back(spawn_item_owner(*sys, t, n, graph.training, me, opts.frame_rows,
                                       opts.frame_rows));
    for (auto& u : users)
      (*self)->send(u, peer_list{items});
    for (auto& i : items)
      (*self)->send(i, peer_list{users});
    partition = spawn_partition(*sys, graph.user_partitioner, graph.item_partitioner, users,
                                items, me);
    source = spawn_source(*sys, graph.source, me);
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)->monitor(a);
    (*self)->monitor(partition);
    (*self)->monitor(source);
  }

  ~impl() {
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)->send_exit(a, caf::exit_reason::user_shutdown);
    (*self)->send_exit(partition, caf::exit_reason::user_shutdown);
    (*self)->send_exit(source, caf::exit_reason::user_shutdown);
    // A detached actor's thread ends only once its last handle is gone.
    users.clear();
    items.clear();
    partition = nullptr;
    source = nullptr;
    self.reset();
    sys.reset();
  }

  /// Loads graph.seed_model into the owners (each shard gets the keys its partitioner
  /// routes to it) and continues the running mean from the model's.
  result<void> seed() {
    if (!graph.seed_model)
      return {};
    const auto& m = *graph.seed_model;
    auto n = graph.partitions;
    auto parts = split_model(m, n, graph.user_partitioner, graph.item_partitioner);
    auto& user_parts = parts.users;
    auto& item_parts = parts.items;
    std::optional<error> err;
    auto load = [&](const caf::actor& owner, seed_shard& part) {
      (*self)
        ->request(owner, opts.stall_timeout, std::move(part))
        .receive(
          [&](const std::string& message) {
            if (!message.empty() && !err)
              err = error{errc::invalid_argument, "seeding the model: " + message};
          },
          [&](caf::error& e) {
            if (!err)
              err = error{errc::io, "seeding the model: " + caf::to_string(e)};
          });
    };
    for (std::size_t s = 0; s < n; ++s) {
      load(users[s], user_parts[s]);
      load(items[s], item_parts[s]);
    }
    if (err)
      return *err;
    mu = m.mu();
    mu_count = m.mu_count();
    return {};
  }

  bool wants_evaluation(std::uint64_t batch) const {
    return graph.evaluation && (batch + 1) % graph.evaluation->every == 0;
  }

  /// Serving: at most one model per publish_interval (0: every batch), decided when the
  /// batch is routed, so the owners know to hold (or copy) after it.
  bool wants_publish(clock::time_point now) {
    if (!graph.on_model)
      return false;
    if (last_publish && graph.publish_interval.count() > 0
        && now - *last_publish < graph.publish_interval)
      return false;
    last_publish = now;
    return true;
  }

  void route(rating_batch b) {
    batch_stamp st;
    st.batch = stamped++;
    st.offset = offset;
    mu = fold_mean(mu, mu_count, b);
    st.mu = mu;
    st.mu_count = mu_count;
    flight f;
    f.start = clock::now();
    f.evaluate = wants_evaluation(st.batch);
    f.publish = wants_publish(f.start);
    st.snapshot = f.evaluate || f.publish;
    offset += b.size();
    f.stamp = st;
    f.m.batch = st.batch + 1;
    f.m.ratings = b.size();
    f.m.ratings_seen = offset;
    f.m.position = b.position;
    auto& src_edge = f.m.edges[std::size_t(edge_index::source_to_partition)];
    src_edge.messages = 1;
    src_edge.bytes = sizeof(stamped_batch) + b.size() * sizeof(rating_event);
    in_flight.emplace(st.batch, std::move(f));
    (*self)->send(partition, stamped_batch{st, std::move(b)});
  }

  /// Validation error after the batch of `stamp`, while every owner holds: the user
  /// owners predict their shares of the validation set in parallel (shard_evaluation),
  /// each writing its errors in place; summed here in validation order, as evaluate()
  /// sums them. Empty (and the graph broken) if an owner does not answer.
  std::optional<error_metrics> evaluate_in_owners(const batch_stamp& stamp,
                                                  const std::vector<const shard_store*>& is) {
    const auto& validation = *graph.evaluation->validation;
    if (eval_parts.empty()) {
      eval_parts = split_validation(validation, users.size(), graph.user_partitioner,
                                    graph.item_partitioner);
      eval_errors.assign(validation.ratings.size(), 0.0);
    }
    using handle = decltype((*self)->request(users[0], opts.stall_timeout, evaluate_shard{}));
    std::vector<handle> pending;
    pending.reserve(users.size());
    for (std::size_t s = 0; s < users.size(); ++s)
      pending.push_back((*self)->request(users[s], opts.stall_timeout,
                                         evaluate_shard{stamp.batch, stamp.mu, graph.scale,
                                                        &eval_parts[s], &is,
                                                        eval_errors.data()}));
    std::optional<error> err;
    for (auto& h : pending)
      h.receive([](std::uint64_t) {},
                [&](caf::error& e) {
                  if (!err)
                    err = error{errc::io, "evaluation failed: " + caf::to_string(e)};
                });
    if (err) {
      broken = *err;
      return std::nullopt;
    }
    return metrics_of_errors(eval_errors);
  }

  /// Completes every batch whose owners have all reported, in order.
  void complete(std::uint64_t batch, const batch_callback& on_batch, bool& stop,
                const stop_predicate& pred, run_summary& sum) {
    auto it = in_flight.find(batch);
    auto& f = it->second;
    if (!f.routed || f.owners_done != users.size() + items.size())
      return;
    auto n_user = f.users.size() + f.user_views.size();
    auto n_item = f.items.size() + f.item_views.size();
    if (f.stamp.snapshot && (n_user != users.size() || n_item != items.size()))
      return;
    f.m.latency_seconds = seconds_since(f.start);
    f.m.ratings_per_second =
      f.m.latency_seconds > 0 ? double(f.m.ratings) / f.m.latency_seconds : 0.0;
    std::optional<result<factor_model>> published;
    if (!f.user_views.empty() || !f.item_views.empty()) {
      // Every owner holds after this batch: read the shards in place, then release them.
      if (f.evaluate) {
        std::vector<const shard_store*> is(items.size());
        for (const auto& view : f.item_views)
          is[view.shard] = view.store;
        if (auto em = evaluate_in_owners(f.stamp, is)) {
          f.m.rmse = em->rmse;
          f.m.mae = em->mae;
        }
      }
      std::vector<shard_parts> up, ip;
      if (f.publish) {  // serving: copy the shards while the owners hold (plain copies)
        for (const auto& view : f.user_views)
          up.push_back(view.store->export_parts(view.batch, view.shard));
        for (const auto& view : f.item_views)
          ip.push_back(view.store->export_parts(view.batch, view.shard));
      }
      for (auto* group : {&users, &items})
        for (auto& a : *group)
          (*self)->send(a, release_atom::value);
      if (f.publish)  // assembled after the release: the owners go on meanwhile
        published = assemble_model(graph.training.rank, graph.scale, f.stamp.mu,
                                   f.stamp.mu_count, up, ip);
    } else if (f.stamp.snapshot) {
      auto model = assemble_model(graph.training.rank, graph.scale, f.stamp.mu,
                                  f.stamp.mu_count, f.users, f.items);
      if (model && f.evaluate) {
        const auto& v = *graph.evaluation->validation;
        auto em = evaluate(*model, v.ratings, v.users, v.items);
        f.m.rmse = em.rmse;
        f.m.mae = em.mae;
      }
      if (!model || f.publish)
        published = std::move(model);
    }
    if (published) {
      if (*published)
        graph.on_model(f.m.batch, std::move(**published));
      else
        broken = published->err();
    }
    history.push_back(f.m);
    if (opts.history_limit > 0 && history.size() >= 2 * opts.history_limit)
      history.erase(history.begin(), history.end() - std::ptrdiff_t(opts.history_limit));
    sum.batches += 1;
    sum.ratings += f.m.ratings;
    auto m = f.m;
    in_flight.erase(it);
    graph.source->applied(m.position);  // every owner has applied it: a broker may ack
    if (on_batch)
      on_batch(m);
    if (pred && pred(m))
      stop = true;
  }

  result<run_summary> drive(std::size_t limit, const stop_predicate& pred,
                            const batch_callback& on_batch) {
    if (broken)
      return *broken;
    run_summary sum;
    auto start = clock::now();
    std::optional<error> failed;
    std::size_t pulls = 0;
    std::size_t started = 0;
    bool stop = false;
    auto& me = *self;
    for (;;) {
      while (!ended && !failed && !stop && !broken && started + pulls < limit
             && in_flight.size() + pulls < opts.max_in_flight) {
        me->send(source, pull_atom::value);
        ++pulls;
      }
      sum.max_in_flight_seen = std::max(sum.max_in_flight_seen, in_flight.size() + pulls);
      if ((in_flight.empty() && pulls == 0) || broken)
        break;
      me->receive(
        [&](rating_batch& b) {
          --pulls;
          ++started;
          route(std::move(b));
        },
        [&](end_atom) {
          --pulls;
          ended = true;
        },
        [&](source_failed& f) {
          --pulls;
          failed = error{static_cast<errc>(f.code), f.message};
        },
        [&](partition_done& d) {
          auto& f = in_flight.at(d.batch);
          f.routed = true;
          f.m.edges[std::size_t(edge_index::partition_to_users)] = d.to_users;
          f.m.edges[std::size_t(edge_index::partition_to_items)] = d.to_items;
          complete(d.batch, on_batch, stop, pred, sum);
        },
        [&](owner_done& d) {
          auto& f = in_flight.at(d.batch);
          ++f.owners_done;
          f.m.owner_busy_seconds += d.busy_seconds;
          auto e = d.side == 0 ? edge_index::users_to_items : edge_index::items_to_users;
          f.m.edges[std::size_t(e)] += d.sent;
          complete(d.batch, on_batch, stop, pred, sum);
        },
        [&](shard_parts& p) {
          auto batch = p.batch - 1;  // exported after applying batch number p.batch
          auto& f = in_flight.at(batch);
          (p.side == 0 ? f.users : f.items).push_back(std::move(p));
          complete(batch, on_batch, stop, pred, sum);
        },
        [&](shard_view& v) {
          auto batch = v.batch - 1;  // viewed after applying batch number v.batch
          auto& f = in_flight.at(batch);
          (v.side == 0 ? f.user_views : f.item_views).push_back(v);
          complete(batch, on_batch, stop, pred, sum);
        },
        [&](frame_rejected& r) {  // only with frame_rows: a frame failed its checks
          broken = error{errc::corrupt, "at batch " + std::to_string(stamped) + ": " + r.message};
        },
        [&](caf::down_msg& dm) {
          broken = error{errc::io, "an actor of the graph stopped unexpectedly: "
                                     + caf::to_string(dm.reason)};
        },
        caf::after(opts.stall_timeout) >> [&] {
          broken = error{errc::io, "no progress for " + std::to_string(opts.stall_timeout.count())
                                     + " ms; the graph is stuck"};
        });
    }
    sum.seconds = seconds_since(start);
    sum.ratings_per_second = sum.seconds > 0 ? double(sum.ratings) / sum.seconds : 0.0;
    sum.end_of_stream = ended;
    if (broken)
      return *broken;
    if (failed) {
      ended = true;  // the stream is over; the model holds every batch that completed
      return *failed;
    }
    return sum;
  }

  result<factor_model> snapshot() {
    if (broken)
      return *broken;
    std::vector<shard_parts> us, is;
    std::optional<error> err;
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)
          ->request(a, opts.stall_timeout, snapshot_atom::value)
          .receive([&](shard_parts& p) { (p.side == 0 ? us : is).push_back(std::move(p)); },
                   [&](caf::error& e) {
                     err = error{errc::io, "snapshot failed: " + caf::to_string(e)};
                   });
    if (err)
      return *err;
    return assemble_model(graph.training.rank, graph.scale, mu, mu_count, us, is);
  }
};

local_engine::local_engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
local_engine::~local_engine() = default;

result<std::unique_ptr<local_engine>> local_engine::make(streaming_graph g,
                                                         const engine_options& o) {
  if (auto ok = validate(g); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto state = std::make_unique<impl>(std::move(g), o);
  if (auto ok = state->seed(); !ok)
    return ok.err();
  return std::unique_ptr<local_engine>(new local_engine(std::move(state)));
}

result<run_summary> local_engine::run(const batch_callback& on_batch) {
  return impl_->drive(std::numeric_limits<std::size_t>::max(), {}, on_batch);
}

result<run_summary> local_engine::run_n(std::size_t batches, const batch_callback& on_batch) {
  return impl_->drive(batches, {}, on_batch);
}

result<run_summary> local_engine::run_until(const stop_predicate& stop,
                                            const batch_callback& on_batch) {
  return impl_->drive(std::numeric_limits<std::size_t>::max(), stop, on_batch);
}

result<factor_model> local_engine::snapshot() { return impl_->snapshot(); }
const std::vector<batch_metrics>& local_engine::history() const noexcept { return impl_->history; }
bool local_engine::finished() const noexcept { return impl_->ended; }
const streaming_graph& local_engine::graph() const noexcept { return impl_->graph; }

}  // namespace recflow
