#include "recflow/engine/cluster_engine.hpp"

#include <deque>
#include <optional>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/actors/source.hpp"
#include "recflow/actors/wire_partition.hpp"
#include "recflow/engine/cluster_connect.hpp"
#include "recflow/engine/coordinator.hpp"
#include "recflow/engine/engine_actors.hpp"

namespace recflow {

namespace {
/// Appends `item` to the list `out`, after `separator` unless `out` is empty.
void append(std::string& out, const char* separator, const std::string& item) {
  if (!out.empty())
    out.append(separator);
  out.append(item);
}
}  // namespace

/// The driver's actors around the coordinator (its driver), and what a cluster adds:
/// placement on the nodes, failure detection, checkpoints, recovery and replay.
struct cluster_engine::impl final : round_driver {
  /// What the owners held after batch `at.batches` (null model: nothing, an empty start).
  struct checkpoint_state {
    stream_point at;
    std::shared_ptr<const factor_model> model;
  };

  cluster_options opts;
  coordinator core;
  node_placement where;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::unique_ptr<link_layer> links;  ///< plain or TLS; destroyed before the system
  std::vector<caf::actor> nodes;
  std::vector<bool> alive;  ///< per node: not lost
  caf::actor source, partition;
  std::vector<caf::actor> users, items;

  checkpoint_state last;  ///< the newest checkpoint (recovery restores it)
  /// Every batch routed since `last` (its index, the batch), oldest first: what a
  /// recovery routes again.
  std::deque<std::pair<std::uint64_t, rating_batch>> log;
  std::size_t recoveries = 0;
  std::optional<std::size_t> deploy_lost;  ///< the node a failed deploy() could not reach

  impl(streaming_graph g, const cluster_options& o)
      : opts(o),
        core(std::move(g),
             {.max_in_flight = o.engine.max_in_flight,
              .history_limit = o.engine.history_limit,
              .checkpoint_every = o.recover ? o.checkpoint_every : 0},
             *this) {
    add_graph_message_types(cfg);
    add_cluster_message_types(cfg);
    configure_cluster_middleman(cfg);
    configure_scheduler(cfg, opts.engine.workers, opts.engine.priority);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    where = place_round_robin(core.graph().partitions, opts.nodes.size());
  }

  ~impl() override {
    if (self) {
      stop_actors(*self, {&users, &items});
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
    links.reset();  // its middleman actor is detached: the system waits for it
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

  void note(const std::string& line) const {
    if (opts.on_event)
      opts.on_event(line);
  }

  /// Connects to every node (handshake, then the mesh between them), spawns the source
  /// and deploys the owners, seeded from the graph's seed model if any.
  result<void> start() {
    // The handshake, then every node connects to every other before any owner exists
    // (see mesh_atom).
    auto layer = link_layer::start(*sys, {.files = opts.tls}, opts.secret);
    if (!layer)
      return layer.err();
    links = std::move(*layer);
    auto connected = connect_nodes(*sys, *self, *links, opts.nodes, opts.secret,
                                   opts.connect_timeout);
    if (!connected)
      return connected.err();
    nodes = std::move(*connected);
    alive.assign(nodes.size(), true);
    source = spawn_source(*sys, core.graph().source, caf::actor_cast<caf::actor>(*self));
    (*self)->monitor(source);
    if (const auto& seed = core.graph().seed_model) {
      last.model = seed;
      last.at.mu = seed->mu();
      last.at.mu_count = seed->mu_count();
    }
    return deploy();
  }

  /// Spawns owner (`side`, `shard`) on node `n`.
  result<caf::actor> spawn_owner(side which, std::uint32_t shard, std::size_t n) {
    const auto& graph = core.graph();
    owner_spec spec{which, shard, static_cast<std::uint32_t>(graph.partitions), graph.training,
                    caf::actor_cast<caf::actor>(*self)};
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
  }

  /// Spawns the owners where `where` says, wires them to each other and to a new
  /// partition step, and loads the checkpoint `last` into them. A node that does not
  /// answer is named in `deploy_lost`.
  result<void> deploy() {
    deploy_lost.reset();
    const auto& graph = core.graph();
    auto parts = static_cast<std::uint32_t>(graph.partitions);
    for (auto which : {side::user, side::item})
      for (std::uint32_t s = 0; s < parts; ++s) {
        auto a = spawn_owner(which, s, (which == side::user ? where.user_node : where.item_node)[s]);
        if (!a)
          return a.err();
        (which == side::user ? users : items).push_back(*a);
      }
    partition = spawn_wire_partition(*sys, graph.user_partitioner, graph.item_partitioner, users,
                                     items, caf::actor_cast<caf::actor>(*self));
    wire_owners(*self, users, items, partition);
    if (!last.model)
      return {};
    auto failed = load_model(*self, users, items, *last.model, graph, opts.connect_timeout);
    if (!failed)
      return {};
    auto n = (failed->side == side::user ? where.user_node : where.item_node)[failed->shard];
    if (!failed->answered)
      deploy_lost = n;
    return error{failed->answered ? errc::invalid_argument : errc::io,
                 "loading the model into node " + opts.nodes[n].name() + ": " + failed->message};
  }

  void pull() override { (*self)->send(source, pull_atom::value); }

  void send(const batch_stamp& stamp, rating_batch batch) override {
    if (opts.recover)
      log.emplace_back(stamp.batch, batch);
    (*self)->send(partition, stamped_batch{stamp, std::move(batch)});
  }

  void wait() override {
    receive_round(
      *self, core, [&] { return from_current(); },
      [&](caf::down_msg& dm) { on_down(dm); },
      caf::after(opts.engine.stall_timeout) >> [&] {
        auto who = silent_node();
        auto ms = std::to_string(opts.engine.stall_timeout.count());
        auto at = std::to_string(core.current_batch());
        if (!who)
          core.fail(error{errc::io, "no progress for " + ms + " ms at batch " + at});
        else
          lose(*who, "lost node " + opts.nodes[*who].name() + " at batch " + at + " (no reply for "
                       + ms + " ms)");
      });
  }

  /// Keeps the model after a checkpoint batch; the log drops what it covers.
  void checkpoint(const stream_point& at, factor_model model, bool first_time) override {
    last.at = at;
    last.model = std::make_shared<const factor_model>(std::move(model));
    while (!log.empty() && log.front().first < last.at.batches)
      log.pop_front();
    if (opts.on_checkpoint && first_time)
      opts.on_checkpoint(*last.model, at.batches, at.ratings, at.position);
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
      core.fail(error{errc::io, what});
      return;
    }
    for (;;) {
      std::vector<std::size_t> lost, live;
      for (std::size_t k = 0; k < nodes.size(); ++k)
        (alive[k] ? live : lost).push_back(k);
      if (live.empty()) {
        core.fail(error{errc::io, what + "; every node is lost: cannot recover"});
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
      auto replayed = log.size() + core.backlog();
      note(what + "; restoring " + (moved.empty() ? std::string("no shards") : moved)
           + " from the checkpoint of batch " + std::to_string(last.at.batches) + " onto nodes "
           + (onto.empty() ? std::string("(none moved)") : onto)
           + " (every owner restarts from it; " + std::to_string(replayed)
           + " batches to route again)");
      auto ok = redeploy();
      if (ok) {
        ++recoveries;
        return;
      }
      if (!deploy_lost) {
        core.fail(error{ok.err().code, what + "; the recovery failed: " + ok.err().message});
        return;
      }
      alive[*deploy_lost] = false;
      what = "lost node " + opts.nodes[*deploy_lost].name() + " during the recovery ("
             + ok.err().message + ")";
    }
  }

  /// Stops every owner and the partition step, rolls the coordinator back to the
  /// checkpoint and deploys afresh; the batches since the checkpoint are routed again.
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
    std::deque<rating_batch> again;
    for (auto& [index, b] : log)
      again.push_back(std::move(b));
    log.clear();
    core.rewind(last.at, std::move(again));
    return deploy();
  }

  void on_down(const caf::down_msg& dm) {
    if (!watched(dm.source))
      return;  // an owner a recovery stopped, or of a node already lost
    auto n = node_of(dm.source.node());
    if (n && !alive[*n])
      return;
    auto at = std::to_string(core.current_batch());
    if (n)
      lose(*n, "lost node " + opts.nodes[*n].name() + " at batch " + at + " ("
                 + sys->render(dm.reason) + ")");
    else
      core.fail(error{errc::io, "an actor of the driver stopped unexpectedly at batch " + at + ": "
                                  + sys->render(dm.reason)});
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
      if (core.broken())
        return *core.broken();
      if (!got)
        break;
    }
    if (core.backlog() == 0)
      return {};
    auto again = core.drive(0, {}, {});
    if (!again)
      return again.err();
    return {};
  }

  /// The model after the last completed batch. With recovery, a node lost meanwhile is
  /// recovered from (the batches since the checkpoint are routed again) and the snapshot
  /// taken again.
  result<factor_model> snapshot() {
    for (;;) {
      if (auto ok = settle(); !ok)
        return ok.err();
      auto got = gather_shards(*self, users, items, opts.engine.stall_timeout);
      if (!got.failed)
        return core.assemble(got.users, got.items);
      auto lost = node_of(got.failed.node());
      auto err = error{errc::io, "snapshot failed"
                                   + (lost ? " on node " + opts.nodes[*lost].name() : std::string())
                                   + ": " + got.why};
      if (!opts.recover || !lost)
        return err;
      if (alive[*lost])
        lose(*lost, "lost node " + opts.nodes[*lost].name() + " after batch "
                      + std::to_string(core.completed()) + " (" + err.message + ")");
    }
  }
};

cluster_engine::cluster_engine(std::unique_ptr<impl> p)
    : stream_engine(p->core), impl_(std::move(p)) {}
cluster_engine::~cluster_engine() = default;

result<std::unique_ptr<cluster_engine>> cluster_engine::make(streaming_graph g,
                                                             const cluster_options& o) {
  auto state = start_engine<impl>(std::move(g), o);
  if (!state)
    return state.err();
  return std::unique_ptr<cluster_engine>(new cluster_engine(std::move(*state)));
}

result<factor_model> cluster_engine::snapshot() { return impl_->snapshot(); }
std::string cluster_engine::explain() const { return describe(impl_->where, impl_->opts.nodes); }
std::size_t cluster_engine::recoveries() const noexcept { return impl_->recoveries; }

}  // namespace recflow
