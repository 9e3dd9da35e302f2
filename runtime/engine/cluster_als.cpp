#include "recflow/engine/cluster_als.hpp"

#include <cmath>
#include <optional>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/als_block_actor.hpp"
#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/engine/cluster_connect.hpp"
#include "recflow/engine/engine_actors.hpp"
#include "recflow/engine/link_secret.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

namespace {

using clock = std::chrono::steady_clock;

/// The running job: the driver's actor system, the nodes and the blocks.
struct als_job {
  const als_cluster_options& opts;
  caf::actor_system& sys;
  caf::scoped_actor& self;
  std::vector<caf::actor> nodes;
  node_placement where;
  std::vector<caf::actor> users, items;

  std::string node_name(std::size_t n) const { return opts.nodes[n].name(); }

  /// Spawns block `l` on node `n` from its layout blob.
  result<caf::actor> spawn(const als_block_layout& l, const factor_model& initial,
                           const als_block_params& p, std::size_t n) {
    als_block_spec spec{{}, wire_frame{wire::encode_als_layout(l, initial)},
                        caf::actor_cast<caf::actor>(self)};
    if (const auto* ip = std::get_if<implicit_params>(&p)) {
      spec.implicit = true;
      spec.implicit_als = *ip;
      spec.params.rank = ip->rank;
    } else {
      spec.params = std::get<als_params>(p);
    }
    std::optional<error> err;
    caf::actor out;
    self->request(nodes[n], opts.connect_timeout, std::move(spec))
      .receive(
        [&](caf::actor& a, std::string& why) {
          if (!a)
            err = error{errc::invalid_argument, "node " + node_name(n) + " refused to spawn "
                                                  + to_string(l.owner) + " block "
                                                  + std::to_string(l.block) + ": " + why};
          out = std::move(a);
        },
        [&](caf::error& e) {
          err = error{errc::io, "node " + node_name(n) + " did not spawn " + to_string(l.owner)
                                  + " block " + std::to_string(l.block) + ": " + sys.render(e)};
        });
    if (err)
      return *err;
    return out;
  }

  result<void> deploy(const als_graph_setup& s) {
    const auto& p = s.params;
    auto parts = opts.graph.partitions;
    where = place_round_robin(parts, nodes.size());
    for (std::size_t b = 0; b < parts; ++b) {
      auto a = spawn(s.plan->users[b], *s.initial, p, where.user_node[b]);
      if (!a)
        return a.err();
      users.push_back(*a);
    }
    for (std::size_t b = 0; b < parts; ++b) {
      auto a = spawn(s.plan->items[b], *s.initial, p, where.item_node[b]);
      if (!a)
        return a.err();
      items.push_back(*a);
    }
    connect_als_blocks(self, users, items);
    return {};
  }

  error lost(const caf::down_msg& dm, int sweep) {
    auto n = node_index(nodes, dm.source.node());
    auto why = sys.render(dm.reason);
    if (n)
      return error{errc::io, "lost node " + node_name(*n) + " at sweep " + std::to_string(sweep)
                               + " (" + why + ")"};
    return error{errc::io, "an ALS block stopped unexpectedly at sweep " + std::to_string(sweep)
                             + ": " + why};
  }

  error stalled(int sweep) {
    auto ms = std::to_string(opts.graph.stall_timeout.count());
    auto who = silent_node(self, nodes, opts.nodes);
    if (who.empty())
      return error{errc::io, "no progress for " + ms + " ms at sweep " + std::to_string(sweep)};
    return error{errc::io, "lost node " + who + " at sweep " + std::to_string(sweep)
                             + " (no reply for " + ms + " ms)"};
  }

  /// Runs the sweeps; the first failure ends them.
  std::optional<error> sweeps(const als_graph_setup& s, const als_graph_progress& progress) {
    const std::size_t reporting = s.reporting_blocks();
    for (int it = 1; it <= iterations_of(s.params); ++it) {
      auto t0 = clock::now();
      for (auto& i : items)
        self->send(i, als_ship_atom::value, static_cast<std::uint32_t>(it), bool(progress));
      als_sweep_metrics sm;
      sm.iteration = it;
      double se = 0.0;
      std::vector<std::uint8_t> done_by(items.size(), 0);
      std::optional<error> failed;
      for (std::size_t done = 0; done < reporting && !failed;) {
        self->receive(
          [&](als_block_done& d) {
            if (d.iteration != std::uint32_t(it) || d.block >= done_by.size() || done_by[d.block]) {
              failed = error{errc::corrupt, "a malformed ALS block report at sweep "
                                              + std::to_string(it)};
              return;
            }
            done_by[d.block] = 1;
            ++done;
            add_block_report(sm, se, d);
          },
          [&](frame_rejected& r) {
            failed = error{errc::corrupt, "at sweep " + std::to_string(it) + ": "
                                            + name_nodes(r.message, nodes, opts.nodes)};
          },
          [&](caf::down_msg& dm) { failed = lost(dm, it); },
          caf::after(opts.graph.stall_timeout) >> [&] { failed = stalled(it); });
      }
      if (failed)
        return failed;
      sm.seconds = std::chrono::duration<double>(clock::now() - t0).count();
      s.score(sm, se);
      if (progress)
        progress(sm);
    }
    return std::nullopt;
  }

  /// Gathers every block's rows into `m`, checking each answer against its layout.
  std::optional<error> collect(const als_graph_setup& s, factor_model& m) {
    const auto rank = std::size_t(m.rank());
    for (auto owner : {side::user, side::item}) {
      const auto& group = owner == side::user ? users : items;
      const auto& layouts = owner == side::user ? s.plan->users : s.plan->items;
      const auto& placed = owner == side::user ? where.user_node : where.item_node;
      for (std::size_t b = 0; b < group.size(); ++b) {
        std::optional<error> err;
        const auto& l = layouts[b];
        auto what = std::string(to_string(owner)) + " block " + std::to_string(b) + " on node "
                    + node_name(placed[b]);
        self->request(group[b], opts.graph.stall_timeout, als_export_atom::value)
          .receive(
            [&](als_block_parts& bp) {
              if (bp.side != owner || bp.block != b
                  || bp.bias.size() != l.entities.size()
                  || bp.factors.size() != l.entities.size() * rank)
                err = error{errc::corrupt, what + " sent factors that do not fit its layout"};
              else
                write_back(l, bp.bias, bp.factors, m);
            },
            [&](caf::error& e) {
              err = error{errc::io, "collecting " + what + " failed: " + sys.render(e)};
            });
        if (err)
          return err;
      }
    }
    return std::nullopt;
  }

  void stop() { stop_actors(self, {&users, &items}); }
};

}  // namespace

result<void> validate(const als_cluster_options& o) {
  if (o.nodes.empty())
    return error{errc::invalid_argument, "at least one node is needed"};
  if (o.connect_timeout.count() <= 0)
    return error{errc::invalid_argument, "connect timeout must be positive"};
  if (auto ok = check_link_tls(o.tls); !ok)
    return ok;
  return validate(o.graph);
}

std::string explain_als_cluster(const als_cluster_options& o) {
  // describe() words the placement for streaming owners ("shards").
  auto text = describe(place_round_robin(o.graph.partitions, o.nodes.size()), o.nodes,
                       "ratings, block layouts (sent once), coordinator, model assembly");
  for (std::string from = "shards", to = "blocks";;) {
    auto k = text.find(from);
    if (k == std::string::npos)
      break;
    text.replace(k, from.size(), to);
  }
  return text;
}

result<factor_model> train_als_cluster(const rating_table& train, const als_params& p,
                                       const als_cluster_options& o,
                                       const als_graph_progress& progress) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto setup = prepare_als_graph(train, p, o.graph);
  if (!setup)
    return setup.err();
  return run_als_cluster(*setup, o, progress);
}

result<factor_model> train_implicit_als_cluster(const rating_table& events,
                                                const implicit_params& p,
                                                const als_cluster_options& o,
                                                const als_graph_progress& progress) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto setup = prepare_implicit_als_graph(events, p, o.graph);
  if (!setup)
    return setup.err();
  return run_als_cluster(*setup, o, progress);
}

result<factor_model> run_als_cluster(const als_graph_setup& setup, const als_cluster_options& o,
                                     const als_graph_progress& progress) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (rank_of(setup.params) > int(wire::max_rank))
    return error{errc::invalid_argument, "rank " + std::to_string(rank_of(setup.params))
                                           + " is above the wire format's "
                                           + std::to_string(wire::max_rank)};
  caf::actor_system_config cfg;
  add_graph_message_types(cfg);
  add_cluster_message_types(cfg);
  configure_cluster_middleman(cfg);
  configure_scheduler(cfg, o.graph.workers, o.graph.priority);
  caf::actor_system sys(cfg);
  factor_model m = *setup.initial;
  std::optional<error> failed;
  {
    caf::scoped_actor self(sys);
    als_job job{o, sys, self, {}, {}, {}, {}};
    auto links = link_layer::start(sys, {.files = o.tls}, o.secret);
    if (!links)
      return links.err();
    auto nodes = connect_nodes(sys, self, **links, o.nodes, o.secret, o.connect_timeout);
    if (!nodes)
      return nodes.err();
    job.nodes = std::move(*nodes);
    if (auto ok = job.deploy(setup); !ok)
      failed = ok.err();
    if (!failed)
      failed = job.sweeps(setup, progress);
    if (!failed)
      failed = job.collect(setup, m);
    job.stop();
  }
  if (failed)
    return *failed;
  finish_als_graph(setup, m);
  return m;
}

}  // namespace recflow
