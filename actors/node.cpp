#include "recflow/actors/node.hpp"

#include <caf/io/all.hpp>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/graph/wire.hpp"

namespace recflow {

namespace {

struct node_state {
  node_options opts;
  /// Per job (its coordinator's address): the actors spawned for it.
  std::map<caf::actor_addr, std::vector<caf::actor>> jobs;
  std::uint64_t jobs_started = 0;
  static inline const char* name = "recflow.node";
};

using node_self = caf::stateful_actor<node_state>;

void log(node_self* self, const std::string& line) {
  const auto& o = self->state.opts;
  if (o.log)
    o.log(o.name.empty() ? line : o.name + ": " + line);
}

std::string sender_node(node_self* self) {
  auto s = self->current_sender();
  return s ? caf::to_string(s->node()) : std::string("an unknown peer");
}

/// Spawns one batch-ALS block for a driver (als_cluster_messages.hpp): (block, "") or
/// (null, why) when the spec or its layout blob is refused.
caf::message spawn_als(node_self* self, als_block_spec& spec) {
  auto refuse = [&](const std::string& why) {
    log(self, "refused an ALS block for " + sender_node(self) + ": " + why);
    return caf::make_message(caf::actor{}, why);
  };
  if (!spec.coordinator)
    return refuse("no coordinator");
  if (auto ok = validate(spec.params); !ok)
    return refuse(ok.err().message);
  if (spec.params.rank > int(wire::max_rank))
    return refuse("rank " + std::to_string(spec.params.rank) + " above "
                  + std::to_string(wire::max_rank));
  auto init = wire::decode_als_layout(spec.layout.bytes);
  if (!init)
    return refuse(init.err().message);
  if (int(init->rank) != spec.params.rank)
    return refuse("the layout's rows have rank " + std::to_string(init->rank)
                  + ", the parameters say " + std::to_string(spec.params.rank));
  auto layout = std::make_shared<const als_block_layout>(std::move(init->layout));
  auto a = spawn_remote_als_block(self->system(), layout, spec.params, init->mu,
                                  std::move(init->bias), std::move(init->factors),
                                  spec.coordinator);
  auto key = spec.coordinator.address();
  auto [it, fresh] = self->state.jobs.try_emplace(key);
  if (fresh) {
    self->monitor(spec.coordinator);
    ++self->state.jobs_started;
    log(self, "job " + std::to_string(self->state.jobs_started) + " (batch ALS) from driver "
                + caf::to_string(key.node()));
  }
  it->second.push_back(a);
  return caf::make_message(a, std::string{});
}

caf::behavior node_fn(node_self* self, node_options o) {
  if (o.protocol == 0)
    o.protocol = cluster_protocol_version;
  self->state.opts = std::move(o);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto it = self->state.jobs.find(dm.source);
    if (it == self->state.jobs.end())
      return;
    for (auto& a : it->second)
      self->send_exit(a, caf::exit_reason::kill);
    log(self, "job of driver " + caf::to_string(dm.source.node()) + " ended ("
                + (dm.reason ? self->system().render(dm.reason) : std::string("driver finished"))
                + "): stopped its " + std::to_string(it->second.size()) + " actors; serving");
    self->state.jobs.erase(it);
  });
  return {
    [=](stop_node_atom) {
      std::size_t n = 0;
      for (auto& [coordinator, actors] : self->state.jobs)
        for (auto& a : actors) {
          self->send_exit(a, caf::exit_reason::kill);
          ++n;
        }
      self->state.jobs.clear();
      log(self, "stopping (" + std::to_string(n) + " actors of running jobs stopped)");
      self->quit();
    },
    [=](mesh_atom, const mesh_request& req) -> caf::result<mesh_atom, std::uint32_t> {
      const auto& hosts = req.hosts;
      const auto& ports = req.ports;
      if (hosts.size() != ports.size() || hosts.size() > 4096)
        return caf::make_error(caf::sec::invalid_argument, "malformed peer list");
      auto rp = self->make_response_promise<mesh_atom, std::uint32_t>();
      auto left = std::make_shared<std::size_t>(hosts.size());
      auto failed = std::make_shared<bool>(false);
      if (hosts.empty())
        rp.deliver(mesh_atom::value, std::uint32_t{0});
      auto mm = self->system().middleman().actor_handle();
      for (std::size_t k = 0; k < hosts.size(); ++k) {
        auto where = hosts[k] + ":" + std::to_string(ports[k]);
        self->request(mm, std::chrono::seconds(30), caf::connect_atom::value, hosts[k], ports[k])
          .then(
            [=](const caf::node_id&, const caf::strong_actor_ptr&,
                const std::set<std::string>&) mutable {
              if (--*left == 0 && !*failed)
                rp.deliver(mesh_atom::value, static_cast<std::uint32_t>(hosts.size()));
            },
            [=](caf::error& e) mutable {
              log(self, "cannot connect to peer node " + where + ": " + self->system().render(e));
              if (!*failed) {
                *failed = true;
                rp.deliver(caf::make_error(caf::sec::cannot_connect_to_node,
                                           "cannot connect to peer node " + where));
              }
            });
      }
      return rp;
    },
    [=](ping_atom) { return ping_atom::value; },
    [=](hello_atom, std::uint32_t version, const std::string& driver) {
      auto mine = self->state.opts.protocol;
      bool ok = version == mine;
      std::string msg;
      if (ok) {
        msg = "welcome";
        log(self, "driver " + driver + " connected (protocol " + std::to_string(version) + ")");
      } else {
        msg = "protocol version mismatch: the driver speaks " + std::to_string(version)
              + ", this node " + std::to_string(mine);
        log(self, "refused driver " + driver + " from " + sender_node(self) + ": " + msg);
      }
      return caf::make_message(hello_atom::value, mine, ok, msg);
    },
    [=](als_block_spec& spec) -> caf::message { return spawn_als(self, spec); },
    [=](owner_spec& spec) -> caf::message {
      auto refuse = [&](const std::string& why) {
        log(self, "refused an owner for " + sender_node(self) + ": " + why);
        return caf::make_message(caf::actor{}, why);
      };
      if (!is_side(spec.side))
        return refuse("side " + std::to_string(static_cast<unsigned>(spec.side))
                      + " is neither users (0) nor items (1)");
      if (spec.other_shards == 0 || spec.other_shards > 65536)
        return refuse("other side's shard count " + std::to_string(spec.other_shards)
                      + " outside 1..65536");
      if (!spec.coordinator)
        return refuse("no coordinator");
      if (spec.params.mode != update_mode::batch_gradient)
        return refuse("only batch-gradient training runs on the graph");
      if (spec.params.rank > int(wire::max_rank))
        return refuse("rank " + std::to_string(spec.params.rank) + " above "
                      + std::to_string(wire::max_rank));
      if (auto ok = validate(spec.params); !ok)
        return refuse(ok.err().message);
      auto& sys = self->system();
      auto a = spec.side == side::user ? spawn_user_owner(sys, spec.shard, spec.other_shards, spec.params,
                                                 spec.coordinator, true)
                              : spawn_item_owner(sys, spec.shard, spec.other_shards, spec.params,
                                                 spec.coordinator, true);
      auto key = spec.coordinator.address();
      auto [it, fresh] = self->state.jobs.try_emplace(key);
      if (fresh) {
        self->monitor(spec.coordinator);
        ++self->state.jobs_started;
        log(self, "job " + std::to_string(self->state.jobs_started) + " from driver "
                    + caf::to_string(key.node()));
      }
      it->second.push_back(a);
      return caf::make_message(a, std::string{});
    },
  };
}

}  // namespace

caf::actor spawn_node(caf::actor_system& sys, node_options o) {
  return sys.spawn(node_fn, std::move(o));
}

}  // namespace recflow
