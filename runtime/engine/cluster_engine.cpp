#include "recflow/engine/cluster_engine.hpp"

#include <deque>
#include <map>
#include <optional>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/actors/source.hpp"
#include "recflow/actors/wire_partition.hpp"
#include "recflow/engine/cluster_connect.hpp"
#include "recflow/engine/snapshot.hpp"
#include "recflow/model/metrics.hpp"

namespace recflow {

namespace {
using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

/// Appends `item` to the list `out`, after `separator` unless `out` is empty.
void append(std::string& out, const char* separator, const std::string& item) {
  if (!out.empty())
    out.append(separator);
  out.append(item);
}
}  // namespace

struct cluster_engine::impl {
  struct flight {
    batch_metrics m;
    clock::time_point start;
    std::size_t owners_done = 0;
    std::vector<std::uint8_t> user_done, item_done;
    bool routed = false;
    batch_stamp stamp;
    std::vector<shard_parts> users, items;
  };

  /// What the owners held after batch `batches` (null model: nothing, an empty start),
  /// and the driver's running mean then.
  struct checkpoint {
    std::uint64_t batches = 0;
    std::uint64_t ratings = 0;
    double mu = 0.0;
    std::uint64_t mu_count = 0;
    std::string position;
    std::shared_ptr<const factor_model> model;
  };

  streaming_graph graph;
  cluster_options opts;
  node_placement where;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::vector<caf::actor> nodes;
  std::vector<bool> alive;  ///< per node: not lost
  caf::actor source, partition;
  std::vector<caf::actor> users, items;

  double mu = 0.0;
  std::uint64_t mu_count = 0;
  std::uint64_t offset = 0;
  std::uint64_t stamped = 0;
  bool ended = false;
  std::optional<error> broken;
  std::vector<batch_metrics> history;
  std::map<std::uint64_t, flight> in_flight;

  checkpoint last;  ///< the newest checkpoint (recovery restores it)
  /// Every batch routed since `last` (its index, the batch), oldest first: what a
  /// recovery routes again.
  std::deque<std::pair<std::uint64_t, rating_batch>> log;
  std::deque<rating_batch> replay;  ///< to route before pulling the source again
  std::uint64_t batch_base = 0;     ///< batches the owners started from (they count from 0)
  std::uint64_t reported = 0;       ///< the last batch number handed to the callbacks
  std::size_t recoveries = 0;
  std::optional<std::size_t> deploy_lost;  ///< the node a failed deploy() could not reach

  impl(streaming_graph g, const cluster_options& o) : graph(std::move(g)), opts(o) {
    add_graph_message_types(cfg);
    add_cluster_message_types(cfg);
    configure_cluster_middleman(cfg);
    cfg.set("scheduler.max-threads", opts.engine.workers);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    where = place_round_robin(graph.partitions, opts.nodes.size());
  }

  ~impl() {
    if (self) {
      for (auto* group : {&users, &items})
        for (auto& a : *group)
          if (a)
            (*self)->send_exit(a, caf::exit_reason::user_shutdown);
      if (partition)
        (*self)->send_exit(partition, caf::exit_reason::user_shutdown);
      if (source)
        (*self)->send_exit(source, caf::exit_reason::user_shutdown);
    }
    users.clear();
    items.clear();
    nodes.clear();
    partition = nullptr;
    source = nullptr;
    self.reset();
    sys.reset();
  }

  /// The node hosting `a`, by CAF node id.
  std::optional<std::size_t> node_of(const caf::node_id& id) const {
    for (std::size_t n = 0; n < nodes.size(); ++n)
      if (nodes[n] && nodes[n].node() == id)
        return n;
    return std::nullopt;
  }

  /// The batch the job was working on (1-based).
  std::uint64_t current_batch() const {
    return in_flight.empty() ? history.size() + 1 : in_flight.begin()->first + 1;
  }

  void note(const std::string& line) const {
    if (opts.on_event)
      opts.on_event(line);
  }

  /// Connects to every node (handshake, then the mesh between them), spawns the source
  /// and deploys the owners, seeded from the graph's seed model if any.
  result<void> connect() {
    // The handshake, then every node connects to every other before any owner exists
    // (see mesh_atom).
    auto connected = connect_nodes(*sys, *self, opts.nodes, opts.connect_timeout);
    if (!connected)
      return connected.err();
    nodes = std::move(*connected);
    alive.assign(nodes.size(), true);
    source = spawn_source(*sys, graph.source, caf::actor_cast<caf::actor>(*self));
    (*self)->monitor(source);
    if (graph.seed_model) {
      last.model = graph.seed_model;
      last.mu = graph.seed_model->mu();
      last.mu_count = graph.seed_model->mu_count();
      mu = last.mu;
      mu_count = last.mu_count;
    }
    return deploy();
  }

  /// Spawns the owners where `where` says, wires them to each other and to a new
  /// partition step, and loads the checkpoint `last` into them. A node that does not
  /// answer is named in `deploy_lost`.
  result<void> deploy() {
    deploy_lost.reset();
    auto me = caf::actor_cast<caf::actor>(*self);
    auto spawn = [&](std::uint8_t side, std::uint32_t shard, std::size_t n) -> result<caf::actor> {
      owner_spec spec{side, shard, static_cast<std::uint32_t>(graph.partitions), graph.training,
                      me};
      std::optional<error> err;
      caf::actor out;
      (*self)
        ->request(nodes[n], opts.connect_timeout, std::move(spec))
        .receive(
          [&](caf::actor& a, std::string& why) {
            if (!a)
              err = error{errc::invalid_argument, "node " + opts.nodes[n].name()
                                                    + " refused to spawn an owner: " + why};
            out = std::move(a);
          },
          [&](caf::error& e) {
            deploy_lost = n;
            err = error{errc::io, "node " + opts.nodes[n].name() + " did not spawn an owner: "
                                    + sys->render(e)};
          });
      if (err)
        return *err;
      return out;
    };
    auto parts = static_cast<std::uint32_t>(graph.partitions);
    for (std::uint32_t s = 0; s < parts; ++s) {
      auto a = spawn(0, s, where.user_node[s]);
      if (!a)
        return a.err();
      users.push_back(*a);
    }
    for (std::uint32_t t = 0; t < parts; ++t) {
      auto a = spawn(1, t, where.item_node[t]);
      if (!a)
        return a.err();
      items.push_back(*a);
    }
    for (auto& u : users)
      (*self)->send(u, peer_list{items});
    for (auto& i : items)
      (*self)->send(i, peer_list{users});
    partition = spawn_wire_partition(*sys, graph.user_partitioner, graph.item_partitioner, users,
                                     items, me);
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)->monitor(a);
    (*self)->monitor(partition);
    if (!last.model)
      return {};
    auto split = split_model(*last.model, graph.partitions, graph.user_partitioner,
                             graph.item_partitioner);
    std::optional<error> err;
    auto load = [&](const caf::actor& owner, seed_shard& part, std::size_t n) {
      (*self)
        ->request(owner, opts.connect_timeout, std::move(part))
        .receive(
          [&](const std::string& message) {
            if (!message.empty() && !err)
              err = error{errc::invalid_argument, "loading the model into node "
                                                    + opts.nodes[n].name() + ": " + message};
          },
          [&](caf::error& e) {
            if (!err) {
              deploy_lost = n;
              err = error{errc::io, "loading the model into node " + opts.nodes[n].name() + ": "
                                      + sys->render(e)};
            }
          });
    };
    for (std::size_t s = 0; s < graph.partitions; ++s) {
      load(users[s], split.users[s], where.user_node[s]);
      load(items[s], split.items[s], where.item_node[s]);
    }
    if (err)
      return *err;
    return {};
  }

  bool evaluates(std::uint64_t batch) const {
    return graph.evaluation && (batch + 1) % graph.evaluation->every == 0;
  }
  bool checkpoints(std::uint64_t batch) const {
    return opts.recover && (batch + 1) % opts.checkpoint_every == 0;
  }

  void route(rating_batch b) {
    if (opts.recover)
      log.emplace_back(stamped, b);
    batch_stamp st;
    st.batch = stamped++;
    st.offset = offset;
    mu = fold_mean(mu, mu_count, b);
    st.mu = mu;
    st.mu_count = mu_count;
    st.snapshot = evaluates(st.batch) || checkpoints(st.batch);
    offset += b.size();
    flight f;
    f.start = clock::now();
    f.stamp = st;
    f.m.batch = st.batch + 1;
    f.m.ratings = b.size();
    f.m.ratings_seen = offset;
    f.m.position = b.position;
    f.user_done.assign(users.size(), 0);
    f.item_done.assign(items.size(), 0);
    auto& src_edge = f.m.edges[std::size_t(edge_index::source_to_partition)];
    src_edge.messages = 1;
    src_edge.bytes = sizeof(stamped_batch) + b.size() * sizeof(rating_event);
    in_flight.emplace(st.batch, std::move(f));
    (*self)->send(partition, stamped_batch{st, std::move(b)});
  }

  /// Keeps the model after `f`'s batch as the checkpoint; the log drops what it covers.
  void take_checkpoint(const flight& f, factor_model model) {
    last.batches = f.m.batch;
    last.ratings = f.m.ratings_seen;
    last.mu = f.stamp.mu;
    last.mu_count = f.stamp.mu_count;
    last.position = f.m.position;
    last.model = std::make_shared<const factor_model>(std::move(model));
    while (!log.empty() && log.front().first < last.batches)
      log.pop_front();
    if (opts.on_checkpoint && f.m.batch > reported)
      opts.on_checkpoint(*last.model, last.batches, last.ratings, last.position);
  }

  void complete(std::uint64_t batch, const batch_callback& on_batch, bool& stop,
                const stop_predicate& pred, run_summary& sum) {
    auto it = in_flight.find(batch);
    auto& f = it->second;
    if (!f.routed || f.owners_done != users.size() + items.size())
      return;
    if (f.stamp.snapshot && (f.users.size() != users.size() || f.items.size() != items.size()))
      return;
    f.m.latency_seconds = seconds_since(f.start);
    f.m.ratings_per_second =
      f.m.latency_seconds > 0 ? double(f.m.ratings) / f.m.latency_seconds : 0.0;
    if (f.stamp.snapshot) {
      auto model = assemble_model(graph.training.rank, graph.scale, f.stamp.mu,
                                  f.stamp.mu_count, f.users, f.items);
      if (!model) {
        broken = model.err();
      } else {
        if (evaluates(batch)) {
          const auto& v = *graph.evaluation->validation;
          auto em = evaluate(*model, v.ratings, v.users, v.items);
          f.m.rmse = em.rmse;
          f.m.mae = em.mae;
        }
        if (checkpoints(batch))
          take_checkpoint(f, std::move(*model));
      }
    }
    history.push_back(f.m);
    auto m = f.m;
    in_flight.erase(it);
    graph.source->applied(m.position);  // every owner has applied it: a broker may ack
    if (m.batch <= reported)
      return;  // replayed after a recovery: reported the first time
    reported = m.batch;
    sum.batches += 1;
    sum.ratings += m.ratings;
    if (on_batch)
      on_batch(m);
    if (pred && pred(m))
      stop = true;
  }

  /// A message that names a batch no flight holds (a stale or hostile one) breaks the job
  /// instead of indexing past the map.
  flight* find(std::uint64_t batch, const char* what) {
    auto it = in_flight.find(batch);
    if (it != in_flight.end())
      return &it->second;
    broken = error{errc::corrupt, std::string("unexpected ") + what + " for batch "
                                    + std::to_string(batch + 1)};
    return nullptr;
  }

  /// Whether the message being handled comes from an owner or the partition step of the
  /// current deployment (not from one a recovery stopped).
  bool from_current() {
    auto s = (*self)->current_sender();
    if (!s)
      return false;
    auto a = caf::actor_cast<caf::actor_addr>(s);
    if (partition && partition.address() == a)
      return true;
    for (auto* group : {&users, &items})
      for (auto& x : *group)
        if (x.address() == a)
          return true;
    return false;
  }

  /// Whether `a` is an actor the driver watches now (a node, an owner, the partition step
  /// or the source), not one a recovery stopped.
  bool watched(const caf::actor_addr& a) const {
    if ((partition && partition.address() == a) || (source && source.address() == a))
      return true;
    for (auto* group : {&users, &items, &nodes})
      for (auto& x : *group)
        if (x.address() == a)
          return true;
    return false;
  }

  /// After a stall: the first live node that does not answer a ping within a second (a
  /// stopped process, a cut network); nothing if all answer.
  std::optional<std::size_t> silent_node() {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (!alive[n])
        continue;
      bool ok = false;
      (*self)
        ->request(nodes[n], std::chrono::seconds(1), ping_atom::value)
        .receive([&](ping_atom) { ok = true; }, [&](caf::error&) {});
      if (!ok)
        return n;
    }
    return std::nullopt;
  }

  /// "user shards 1, item shards 0 2" of the shards on node `n` in `p`.
  static std::string shards_on(const node_placement& p, std::size_t n) {
    auto list = [&](const std::vector<std::size_t>& side) {
      std::string out;
      for (std::size_t s = 0; s < side.size(); ++s)
        if (side[s] == n)
          append(out, " ", std::to_string(s));
      return out.empty() ? std::string("none") : out;
    };
    return "user shards " + list(p.user_node) + ", item shards " + list(p.item_node);
  }

  /// Node `n` is lost (`what` says how). Without recovery the job stops with `what`; with
  /// it, every owner restarts from the checkpoint on the live nodes and the batches
  /// since are routed again. A node lost meanwhile is recovered from too.
  void lose(std::size_t n, std::string what) {
    alive[n] = false;
    if (!opts.recover) {
      broken = error{errc::io, what};
      return;
    }
    for (;;) {
      std::vector<std::size_t> lost, live;
      for (std::size_t k = 0; k < nodes.size(); ++k)
        (alive[k] ? live : lost).push_back(k);
      if (live.empty()) {
        broken = error{errc::io, what + "; every node is lost: cannot recover"};
        return;
      }
      auto before = where;
      where = replace_lost(where, alive);
      std::string moved, onto;
      for (auto k : lost) {
        auto on = shards_on(before, k);
        if (on != "user shards none, item shards none")
          append(moved, "; ", on);
      }
      for (auto k : live) {
        bool gets = false;
        for (std::size_t s = 0; s < where.user_node.size(); ++s)
          gets = gets || (where.user_node[s] == k && before.user_node[s] != k)
                 || (where.item_node[s] == k && before.item_node[s] != k);
        if (gets)
          append(onto, ", ", opts.nodes[k].name());
      }
      auto replayed = log.size() + replay.size();
      note(what + "; restoring " + (moved.empty() ? std::string("no shards") : moved)
           + " from the checkpoint of batch " + std::to_string(last.batches) + " onto nodes "
           + (onto.empty() ? std::string("(none moved)") : onto)
           + " (every owner restarts from it; " + std::to_string(replayed)
           + " batches to route again)");
      auto ok = redeploy();
      if (ok) {
        ++recoveries;
        return;
      }
      if (!deploy_lost) {
        broken = error{ok.err().code, what + "; the recovery failed: " + ok.err().message};
        return;
      }
      alive[*deploy_lost] = false;
      what = "lost node " + opts.nodes[*deploy_lost].name() + " during the recovery ("
             + ok.err().message + ")";
    }
  }

  /// Stops every owner and the partition step, rolls the driver back to the checkpoint
  /// and deploys afresh; the batches since the checkpoint go to `replay`.
  result<void> redeploy() {
    for (auto* group : {&users, &items})
      for (auto& a : *group) {
        (*self)->demonitor(a);
        (*self)->send_exit(a, caf::exit_reason::kill);
      }
    if (partition) {
      (*self)->demonitor(partition);
      (*self)->send_exit(partition, caf::exit_reason::kill);
    }
    users.clear();
    items.clear();
    partition = nullptr;
    in_flight.clear();
    std::deque<rating_batch> again;
    for (auto& [index, b] : log)
      again.push_back(std::move(b));
    log.clear();
    for (auto& b : replay)
      again.push_back(std::move(b));
    replay = std::move(again);
    mu = last.mu;
    mu_count = last.mu_count;
    offset = last.ratings;
    stamped = last.batches;
    batch_base = last.batches;
    if (history.size() > last.batches)
      history.resize(last.batches);
    return deploy();
  }

  void on_down(const caf::down_msg& dm) {
    if (!watched(dm.source))
      return;  // an owner a recovery stopped, or of a node already lost
    auto n = node_of(dm.source.node());
    if (n && !alive[*n])
      return;
    if (n)
      lose(*n, "lost node " + opts.nodes[*n].name() + " at batch "
                 + std::to_string(current_batch()) + " (" + sys->render(dm.reason) + ")");
    else
      broken = error{errc::io, "an actor of the driver stopped unexpectedly at batch "
                                 + std::to_string(current_batch()) + ": "
                                 + sys->render(dm.reason)};
  }

  /// Between runs: handles the losses already heard of (down messages waiting in the
  /// mailbox); with recovery, the batches since the checkpoint are routed again.
  result<void> settle() {
    for (;;) {
      bool got = false;
      (*self)->receive(
        [&](caf::down_msg& dm) {
          got = true;
          on_down(dm);
        },
        caf::after(std::chrono::seconds(0)) >> [] {});
      if (broken)
        return *broken;
      if (!got)
        break;
    }
    if (replay.empty())
      return {};
    auto again = drive(0, {}, {});
    if (!again)
      return again.err();
    return {};
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
      // Batches a recovery routes again come first (they were started before).
      while (!broken && !replay.empty() && in_flight.size() + pulls < opts.engine.max_in_flight) {
        auto b = std::move(replay.front());
        replay.pop_front();
        route(std::move(b));
      }
      while (replay.empty() && !ended && !failed && !stop && !broken && started + pulls < limit
             && in_flight.size() + pulls < opts.engine.max_in_flight) {
        me->send(source, pull_atom::value);
        ++pulls;
      }
      sum.max_in_flight_seen = std::max(sum.max_in_flight_seen, in_flight.size() + pulls);
      if ((in_flight.empty() && pulls == 0 && replay.empty()) || broken)
        break;
      me->receive(
        [&](rating_batch& b) {
          --pulls;
          ++started;
          if (replay.empty())
            route(std::move(b));
          else
            replay.push_back(std::move(b));  // after the batches routed again
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
          if (!from_current())
            return;
          auto* f = find(d.batch, "partition report");
          if (!f)
            return;
          f->routed = true;
          f->m.edges[std::size_t(edge_index::partition_to_users)] = d.to_users;
          f->m.edges[std::size_t(edge_index::partition_to_items)] = d.to_items;
          complete(d.batch, on_batch, stop, pred, sum);
        },
        [&](owner_done& d) {
          if (!from_current())
            return;
          auto* f = find(d.batch, "owner report");
          if (!f)
            return;
          auto& done = d.side == 0 ? f->user_done : f->item_done;
          if (d.side > 1 || d.shard >= done.size() || done[d.shard]) {
            broken = error{errc::corrupt, "a malformed owner report for batch "
                                            + std::to_string(d.batch + 1)};
            return;
          }
          done[d.shard] = 1;
          ++f->owners_done;
          f->m.owner_busy_seconds += d.busy_seconds;
          auto e = d.side == 0 ? edge_index::users_to_items : edge_index::items_to_users;
          f->m.edges[std::size_t(e)] += d.sent;
          complete(d.batch, on_batch, stop, pred, sum);
        },
        [&](shard_parts& p) {
          if (!from_current())
            return;
          if (p.batch == 0) {
            broken = error{errc::corrupt, "a snapshot part for batch 0"};
            return;
          }
          // Owners count the batches they applied; a recovery's owners start at batch_base.
          auto batch = batch_base + p.batch - 1;
          auto* f = find(batch, "snapshot part");
          if (!f)
            return;
          (p.side == 0 ? f->users : f->items).push_back(std::move(p));
          complete(batch, on_batch, stop, pred, sum);
        },
        [&](frame_rejected& r) {
          if (!from_current())
            return;
          broken = error{errc::corrupt, "at batch " + std::to_string(current_batch()) + ": "
                                          + r.message};
        },
        [&](caf::down_msg& dm) { on_down(dm); },
        caf::after(opts.engine.stall_timeout) >> [&] {
          auto who = silent_node();
          auto ms = std::to_string(opts.engine.stall_timeout.count());
          if (!who)
            broken = error{errc::io, "no progress for " + ms + " ms at batch "
                                       + std::to_string(current_batch())};
          else
            lose(*who, "lost node " + opts.nodes[*who].name() + " at batch "
                         + std::to_string(current_batch()) + " (no reply for " + ms + " ms)");
        });
    }
    sum.seconds = seconds_since(start);
    sum.ratings_per_second = sum.seconds > 0 ? double(sum.ratings) / sum.seconds : 0.0;
    sum.end_of_stream = ended;
    if (broken)
      return *broken;
    if (failed) {
      ended = true;
      return *failed;
    }
    return sum;
  }

  /// The model after the last completed batch. With recovery, a node lost meanwhile is
  /// recovered from (the batches since the checkpoint are routed again) and the snapshot
  /// taken again.
  result<factor_model> snapshot() {
    for (;;) {
      if (auto ok = settle(); !ok)
        return ok.err();
      std::vector<shard_parts> us, is;
      std::optional<error> err;
      std::optional<std::size_t> lost;
      for (auto* group : {&users, &items})
        for (auto& a : *group) {
          if (err)
            break;
          (*self)
            ->request(a, opts.engine.stall_timeout, snapshot_atom::value)
            .receive([&](shard_parts& p) { (p.side == 0 ? us : is).push_back(std::move(p)); },
                     [&](caf::error& e) {
                       lost = node_of(a.node());
                       err = error{errc::io, "snapshot failed"
                                               + (lost ? " on node " + opts.nodes[*lost].name()
                                                       : std::string())
                                               + ": " + sys->render(e)};
                     });
        }
      if (!err)
        return assemble_model(graph.training.rank, graph.scale, mu, mu_count, us, is);
      if (!opts.recover || !lost)
        return *err;
      if (alive[*lost])
        lose(*lost, "lost node " + opts.nodes[*lost].name() + " after batch "
                      + std::to_string(history.size()) + " (" + err->message + ")");
    }
  }
};

cluster_engine::cluster_engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
cluster_engine::~cluster_engine() = default;

result<std::unique_ptr<cluster_engine>> cluster_engine::make(streaming_graph g,
                                                             const cluster_options& o) {
  if (auto ok = validate(g); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto p = std::make_unique<impl>(std::move(g), o);
  if (auto ok = p->connect(); !ok)
    return ok.err();
  return std::unique_ptr<cluster_engine>(new cluster_engine(std::move(p)));
}

result<run_summary> cluster_engine::run(const batch_callback& on_batch) {
  return impl_->drive(std::numeric_limits<std::size_t>::max(), {}, on_batch);
}
result<run_summary> cluster_engine::run_n(std::size_t batches, const batch_callback& on_batch) {
  return impl_->drive(batches, {}, on_batch);
}
result<run_summary> cluster_engine::run_until(const stop_predicate& stop,
                                              const batch_callback& on_batch) {
  return impl_->drive(std::numeric_limits<std::size_t>::max(), stop, on_batch);
}
result<factor_model> cluster_engine::snapshot() { return impl_->snapshot(); }
const std::vector<batch_metrics>& cluster_engine::history() const noexcept {
  return impl_->history;
}
bool cluster_engine::finished() const noexcept { return impl_->ended; }
const streaming_graph& cluster_engine::graph() const noexcept { return impl_->graph; }
std::string cluster_engine::explain() const { return describe(impl_->where, impl_->opts.nodes); }
std::size_t cluster_engine::recoveries() const noexcept { return impl_->recoveries; }

}  // namespace recflow
