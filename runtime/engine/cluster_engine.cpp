#include "engine/cluster_engine.hpp"

#include <map>
#include <optional>
#include <sstream>

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/cluster_messages.hpp"
#include "actors/messages.hpp"
#include "actors/source.hpp"
#include "actors/wire_partition.hpp"
#include "engine/snapshot.hpp"
#include "model/metrics.hpp"

namespace recflow {

result<node_endpoint> parse_endpoint(const std::string& text) {
  auto bad = error{errc::invalid_argument, "node address '" + text + "' is not host:port"};
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return bad;
  node_endpoint e;
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
    e.host = e.host.substr(1, e.host.size() - 2);
  unsigned long port = 0;
  for (auto c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return bad;
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535)
    return error{errc::invalid_argument, "node address '" + text + "': port must be 1..65535"};
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

result<std::vector<node_endpoint>> parse_endpoints(const std::string& list) {
  std::vector<node_endpoint> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      continue;
    auto e = parse_endpoint(item);
    if (!e)
      return e.err();
    out.push_back(*e);
  }
  if (out.empty())
    return error{errc::invalid_argument, "no nodes given (expected host:port,host:port,...)"};
  return out;
}

result<void> validate(const cluster_options& o) {
  if (o.nodes.empty())
    return error{errc::invalid_argument, "at least one node is needed"};
  if (o.connect_timeout.count() <= 0)
    return error{errc::invalid_argument, "connect timeout must be positive"};
  return validate(o.engine);
}

node_placement place_round_robin(std::size_t partitions, std::size_t nodes) {
  node_placement p;
  for (std::size_t s = 0; s < partitions; ++s)
    p.user_node.push_back(s % nodes);
  for (std::size_t t = 0; t < partitions; ++t)
    p.item_node.push_back((partitions + t) % nodes);
  return p;
}

std::string describe(const node_placement& p, const std::vector<node_endpoint>& nodes) {
  std::string out;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    std::string users, items;
    for (std::size_t s = 0; s < p.user_node.size(); ++s)
      if (p.user_node[s] == n) {
        users.push_back(' ');  // (not " " + ...: GCC 12 warns falsely, bug 105329)
        users.append(std::to_string(s));
      }
    for (std::size_t t = 0; t < p.item_node.size(); ++t)
      if (p.item_node[t] == n) {
        items.push_back(' ');
        items.append(std::to_string(t));
      }
    out += "node " + nodes[n].name() + ": user shards" + (users.empty() ? " none" : users)
           + ", item shards" + (items.empty() ? " none" : items) + "\n";
  }
  out += "driver: source, partition (slices as wire frames), coordinator, evaluation\n";
  return out;
}

namespace {
using clock = std::chrono::steady_clock;

/// "pid 1234 on host" for the nodes' logs.
std::string driver_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return "pid " + std::to_string(::getpid()) + " on " + host;
}

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
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

  streaming_graph graph;
  cluster_options opts;
  node_placement where;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::vector<caf::actor> nodes;
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

  result<void> connect() {
    auto me = caf::actor_cast<caf::actor>(*self);
    for (const auto& ep : opts.nodes) {
      auto node = sys->middleman().remote_actor(ep.host, ep.port);
      if (!node)
        return error{errc::io, "cannot connect to node " + ep.name() + ": "
                                 + sys->render(node.error())};
      std::optional<error> err;
      (*self)
        ->request(*node, opts.connect_timeout, hello_atom::value, cluster_protocol_version,
                  driver_name())
        .receive(
          [&](hello_atom, std::uint32_t version, bool ok, const std::string& msg) {
            if (!ok || version != cluster_protocol_version)
              err = error{errc::version, "node " + ep.name() + " refused this driver: " + msg
                                           + " (driver protocol "
                                           + std::to_string(cluster_protocol_version) + ", node "
                                           + std::to_string(version) + ")"};
          },
          [&](caf::error& e) {
            err = error{errc::io, "node " + ep.name() + " did not answer the handshake: "
                                    + sys->render(e)};
          });
      if (err)
        return *err;
      (*self)->monitor(*node);
      nodes.push_back(*node);
    }
    // Every node connects to every other before any owner exists (see mesh_atom).
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      mesh_request peers;
      for (std::size_t m = 0; m < nodes.size(); ++m)
        if (m != n && nodes[m].node() != nodes[n].node()) {
          peers.hosts.push_back(opts.nodes[m].host);
          peers.ports.push_back(opts.nodes[m].port);
        }
      std::optional<error> err;
      (*self)
        ->request(nodes[n], opts.connect_timeout, mesh_atom::value, std::move(peers))
        .receive([&](mesh_atom, std::uint32_t) {},
                 [&](caf::error& e) {
                   err = error{errc::io, "node " + opts.nodes[n].name()
                                           + " could not connect to the other nodes: "
                                           + sys->render(e)};
                 });
      if (err)
        return *err;
    }
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
    source = spawn_source(*sys, graph.source, me);
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)->monitor(a);
    (*self)->monitor(partition);
    (*self)->monitor(source);
    return {};
  }

  bool wants_snapshot(std::uint64_t batch) const {
    return graph.evaluation && (batch + 1) % graph.evaluation->every == 0;
  }

  void route(rating_batch b) {
    batch_stamp st;
    st.batch = stamped++;
    st.offset = offset;
    mu = fold_mean(mu, mu_count, b);
    st.mu = mu;
    st.mu_count = mu_count;
    st.snapshot = wants_snapshot(st.batch);
    offset += b.size();
    flight f;
    f.start = clock::now();
    f.stamp = st;
    f.m.batch = st.batch + 1;
    f.m.ratings = b.size();
    f.m.ratings_seen = offset;
    f.user_done.assign(users.size(), 0);
    f.item_done.assign(items.size(), 0);
    auto& src_edge = f.m.edges[std::size_t(edge_index::source_to_partition)];
    src_edge.messages = 1;
    src_edge.bytes = sizeof(stamped_batch) + b.size() * sizeof(rating_event);
    in_flight.emplace(st.batch, std::move(f));
    (*self)->send(partition, stamped_batch{st, std::move(b)});
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
    if (f.stamp.snapshot && graph.evaluation) {
      auto model = assemble_model(graph.training.rank, graph.scale, f.stamp.mu,
                                  f.stamp.mu_count, f.users, f.items);
      if (model) {
        const auto& v = *graph.evaluation->validation;
        auto em = evaluate(*model, v.ratings, v.users, v.items);
        f.m.rmse = em.rmse;
        f.m.mae = em.mae;
      } else {
        broken = model.err();
      }
    }
    history.push_back(f.m);
    sum.batches += 1;
    sum.ratings += f.m.ratings;
    auto m = f.m;
    in_flight.erase(it);
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

  /// After a stall: the first node that does not answer a ping within a second (a
  /// stopped process, a cut network); empty if all answer.
  std::string silent_node() {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      bool alive = false;
      (*self)
        ->request(nodes[n], std::chrono::seconds(1), ping_atom::value)
        .receive([&](ping_atom) { alive = true; }, [&](caf::error&) {});
      if (!alive)
        return opts.nodes[n].name();
    }
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
      while (!ended && !failed && !stop && !broken && started + pulls < limit
             && in_flight.size() + pulls < opts.engine.max_in_flight) {
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
          auto* f = find(d.batch, "partition report");
          if (!f)
            return;
          f->routed = true;
          f->m.edges[std::size_t(edge_index::partition_to_users)] = d.to_users;
          f->m.edges[std::size_t(edge_index::partition_to_items)] = d.to_items;
          complete(d.batch, on_batch, stop, pred, sum);
        },
        [&](owner_done& d) {
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
          if (p.batch == 0) {
            broken = error{errc::corrupt, "a snapshot part for batch 0"};
            return;
          }
          auto batch = p.batch - 1;
          auto* f = find(batch, "snapshot part");
          if (!f)
            return;
          (p.side == 0 ? f->users : f->items).push_back(std::move(p));
          complete(batch, on_batch, stop, pred, sum);
        },
        [&](frame_rejected& r) {
          broken = error{errc::corrupt, "at batch " + std::to_string(current_batch()) + ": "
                                          + r.message};
        },
        [&](caf::down_msg& dm) {
          auto n = node_of(dm.source.node());
          if (n)
            broken = error{errc::io, "lost node " + opts.nodes[*n].name() + " at batch "
                                       + std::to_string(current_batch()) + " ("
                                       + sys->render(dm.reason) + ")"};
          else
            broken = error{errc::io, "an actor of the driver stopped unexpectedly at batch "
                                       + std::to_string(current_batch()) + ": "
                                       + sys->render(dm.reason)};
        },
        caf::after(opts.engine.stall_timeout) >> [&] {
          auto who = silent_node();
          auto ms = std::to_string(opts.engine.stall_timeout.count());
          broken = who.empty()
                     ? error{errc::io, "no progress for " + ms + " ms at batch "
                                         + std::to_string(current_batch())}
                     : error{errc::io, "lost node " + who + " at batch "
                                         + std::to_string(current_batch()) + " (no reply for "
                                         + ms + " ms)"};
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

  result<factor_model> snapshot() {
    if (broken)
      return *broken;
    std::vector<shard_parts> us, is;
    std::optional<error> err;
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)
          ->request(a, opts.engine.stall_timeout, snapshot_atom::value)
          .receive([&](shard_parts& p) { (p.side == 0 ? us : is).push_back(std::move(p)); },
                   [&](caf::error& e) {
                     auto n = node_of(a.node());
                     err = error{errc::io, "snapshot failed"
                                             + (n ? " on node " + opts.nodes[*n].name() : "")
                                             + ": " + sys->render(e)};
                   });
    if (err)
      return *err;
    return assemble_model(graph.training.rank, graph.scale, mu, mu_count, us, is);
  }
};

cluster_engine::cluster_engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
cluster_engine::~cluster_engine() = default;

result<std::unique_ptr<cluster_engine>> cluster_engine::make(streaming_graph g,
                                                             const cluster_options& o) {
  if (auto ok = validate(g); !ok)
    return ok.err();
  if (g.seed_model)
    return error{errc::invalid_argument,
                 "a seed model (--init-model) runs on the local engine only, not across nodes "
                 "yet"};
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

}  // namespace recflow
