#include "recflow/actors/node.hpp"

#include <caf/io/all.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/implicit_cluster_owner.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/link_auth.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/graph/wire.hpp"

namespace recflow {

namespace {

/// Challenges given out and not yet answered, at most this many (the oldest goes first).
constexpr std::size_t max_open_challenges = 256;

struct node_state {
  node_options opts;
  /// Per job (its coordinator's address): the actors spawned for it.
  std::map<caf::actor_addr, std::vector<caf::actor>> jobs;
  std::uint64_t jobs_started = 0;
  /// CAF node ids that proved the secret (with a secret only).
  std::set<caf::node_id> authenticated;
  /// The nonce given to each node id that asked for a challenge, in the order given.
  std::map<caf::node_id, std::string> challenges;
  std::vector<caf::node_id> challenge_order;
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

/// Why the current message's sender may not ask for `what` (logged), or nothing when it
/// may: with a secret, only node ids that proved it may ask for anything but the handshake.
std::optional<std::string> unauthenticated(node_self* self, const std::string& what) {
  const auto& st = self->state;
  if (st.opts.secret.empty())
    return std::nullopt;
  auto s = self->current_sender();
  if (s && st.authenticated.count(s->node()) > 0)
    return std::nullopt;
  auto why = "this node needs the shared secret (--secret-file) and " + sender_node(self)
             + " has not proven it: " + what + " refused";
  log(self, why);
  return why;
}

/// Stops every job's actors and the node.
void stop_everything(node_self* self, const std::string& why) {
  std::size_t n = 0;
  for (auto& [coordinator, actors] : self->state.jobs)
    for (auto& a : actors) {
      self->send_exit(a, caf::exit_reason::kill);
      ++n;
    }
  self->state.jobs.clear();
  log(self, "stopping (" + why + "; " + std::to_string(n) + " actors of running jobs stopped)");
  self->quit();
}

/// stop_node_atom from a peer: obeyed only when the sender drove every running job.
void stop_from_peer(node_self* self) {
  if (unauthenticated(self, "stop"))
    return;
  auto s = self->current_sender();
  bool own = false, foreign = false;
  for (const auto& job : self->state.jobs)
    (s && job.first.node() == s->node() ? own : foreign) = true;
  if (!own || foreign) {
    log(self, "ignored a stop from " + sender_node(self) + ": "
                + (!own ? "it has no job on this node" : "other drivers' jobs run here"));
    return;
  }
  stop_everything(self, "stopped by driver " + sender_node(self));
}

/// (challenge_atom, driver nonce): a fresh nonce for the sender and the node's proof.
caf::message challenge(node_self* self, const std::string& driver_nonce) {
  auto& st = self->state;
  auto s = self->current_sender();
  if (st.opts.secret.empty() || !s || driver_nonce.size() > 256)
    return caf::make_message(challenge_atom::value, std::string{}, std::string{});
  if (st.challenges.size() >= max_open_challenges) {
    st.challenges.erase(st.challenge_order.front());
    st.challenge_order.erase(st.challenge_order.begin());
  }
  auto nonce = link_auth::nonce();
  if (st.challenges.insert_or_assign(s->node(), nonce).second)
    st.challenge_order.push_back(s->node());
  return caf::make_message(challenge_atom::value, nonce,
                           link_auth::node_proof(st.opts.secret, driver_nonce, nonce));
}

/// (auth_atom, proof): records the sender as authenticated if the proof answers its
/// challenge. One answer per challenge, right or wrong.
caf::message authenticate(node_self* self, const std::string& proof) {
  auto& st = self->state;
  auto s = self->current_sender();
  auto refuse = [&](const std::string& why) {
    log(self, "refused driver " + sender_node(self) + ": " + why);
    return caf::make_message(auth_atom::value, false, why);
  };
  if (st.opts.secret.empty())
    return caf::make_message(auth_atom::value, true, std::string("this node asks no secret"));
  auto it = s ? st.challenges.find(s->node()) : st.challenges.end();
  if (it == st.challenges.end())
    return refuse("no challenge was given to it");
  auto nonce = std::move(it->second);
  st.challenges.erase(it);
  std::erase(st.challenge_order, s->node());
  if (!link_auth::same(proof, link_auth::driver_proof(st.opts.secret, nonce,
                                                      caf::to_string(s->node()))))
    return refuse("wrong proof of the shared secret");
  st.authenticated.insert(s->node());
  log(self, "driver " + sender_node(self) + " proved the shared secret");
  return caf::make_message(auth_atom::value, true, std::string("authenticated"));
}

/// The refusal of a spawn request for `what` ("an ALS block"): logged, naming the sender,
/// and answered (null, why).
caf::message refuse_spawn(node_self* self, const std::string& what, const std::string& why) {
  log(self, "refused " + what + " for " + sender_node(self) + ": " + why);
  return caf::make_message(caf::actor{}, why);
}

/// Records `a` as an actor of the job coordinated by `coordinator` (stopped when the
/// driver ends); the first one logs the job, as `what` names it.
void keep(node_self* self, const caf::actor& coordinator, const caf::actor& a,
          const std::string& what) {
  auto key = coordinator.address();
  auto [it, fresh] = self->state.jobs.try_emplace(key);
  if (fresh) {
    self->monitor(coordinator);
    ++self->state.jobs_started;
    log(self, "job " + std::to_string(self->state.jobs_started) + what + " from driver "
                + caf::to_string(key.node()));
  }
  it->second.push_back(a);
}

/// Spawns one batch-ALS block for a driver (als_cluster_messages.hpp): (block, "") or
/// (null, why) when the spec or its layout blob is refused.
caf::message spawn_als(node_self* self, als_block_spec& spec) {
  if (auto why = unauthenticated(self, "an ALS block"))
    return caf::make_message(caf::actor{}, *why);
  auto refuse = [&](const std::string& why) { return refuse_spawn(self, "an ALS block", why); };
  if (!spec.coordinator)
    return refuse("no coordinator");
  const auto params = spec.block_params();
  if (auto ok = validate(params); !ok)
    return refuse(ok.err().message);
  const auto rank = rank_of(params);
  if (rank > int(wire::max_rank))
    return refuse("rank " + std::to_string(rank) + " above " + std::to_string(wire::max_rank));
  auto init = wire::decode_als_layout(spec.layout.bytes);
  if (!init)
    return refuse(init.err().message);
  if (int(init->rank) != rank)
    return refuse("the layout's rows have rank " + std::to_string(init->rank)
                  + ", the parameters say " + std::to_string(rank));
  auto layout = std::make_shared<const als_block_layout>(std::move(init->layout));
  auto a = spawn_remote_als_block(self->system(), layout, params, init->mu,
                                  std::move(init->bias), std::move(init->factors),
                                  spec.coordinator);
  keep(self, spec.coordinator, a, spec.implicit ? " (batch implicit ALS)" : " (batch ALS)");
  return caf::make_message(a, std::string{});
}

/// Spawns one streaming implicit ALS owner for a driver (implicit_cluster_owner.hpp):
/// (owner, "") or (null, why) when the spec or its seed is refused.
caf::message spawn_implicit(node_self* self, const implicit_owner_spec& spec) {
  if (auto why = unauthenticated(self, "an implicit owner"))
    return caf::make_message(caf::actor{}, *why);
  auto refuse = [&](const std::string& why) { return refuse_spawn(self, "an implicit owner", why); };
  if (!is_side(spec.side))
    return refuse("side " + std::to_string(static_cast<unsigned>(spec.side))
                  + " is neither users (0) nor items (1)");
  if (!spec.coordinator)
    return refuse("no coordinator");
  if (auto ok = validate(spec.params); !ok)
    return refuse(ok.err().message);
  if (spec.params.als.rank > int(wire::max_rank))
    return refuse("rank " + std::to_string(spec.params.als.rank) + " above "
                  + std::to_string(wire::max_rank));
  auto a = spawn_remote_implicit_owner(self->system(), spec);
  if (!a)
    return refuse(a.err().message);
  keep(self, spec.coordinator, *a, " (streaming implicit ALS)");
  return caf::make_message(*a, std::string{});
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
  // The node is linked to nothing: an exit message can only come from outside.
  self->set_exit_handler([=](caf::exit_msg& em) {
    log(self, "ignored an exit message (" + self->system().render(em.reason) + ")");
  });
  return {
    [=](stop_node&) { stop_everything(self, "asked by this process"); },
    [=](stop_node_atom) { stop_from_peer(self); },
    [=](challenge_atom, const std::string& driver_nonce) {
      return challenge(self, driver_nonce);
    },
    [=](auth_atom, const std::string& proof) { return authenticate(self, proof); },
    [=](mesh_atom, const mesh_request& req) -> caf::result<mesh_atom, std::uint32_t> {
      if (auto why = unauthenticated(self, "a mesh of peers"))
        return caf::make_error(caf::sec::invalid_argument, *why);
      const auto& hosts = req.hosts;
      const auto& ports = req.ports;
      if (hosts.size() != ports.size() || hosts.size() > max_mesh_peers) {
        log(self, "refused a mesh of " + std::to_string(hosts.size()) + " peers from "
                    + sender_node(self) + " (at most " + std::to_string(max_mesh_peers) + ")");
        return caf::make_error(caf::sec::invalid_argument,
                               "malformed peer list or more than "
                                 + std::to_string(max_mesh_peers) + " peers");
      }
      auto rp = self->make_response_promise<mesh_atom, std::uint32_t>();
      auto left = std::make_shared<std::size_t>(hosts.size());
      auto failed = std::make_shared<bool>(false);
      if (hosts.empty())
        rp.deliver(mesh_atom::value, std::uint32_t{0});
      auto mm = self->state.opts.links ? self->state.opts.links
                                        : self->system().middleman().actor_handle();
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
      if (auto why = unauthenticated(self, "an owner"))
        return caf::make_message(caf::actor{}, *why);
      auto refuse = [&](const std::string& why) { return refuse_spawn(self, "an owner", why); };
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
      keep(self, spec.coordinator, a, "");
      return caf::make_message(a, std::string{});
    },
    [=](const implicit_owner_spec& spec) -> caf::message { return spawn_implicit(self, spec); },
  };
}

}  // namespace

caf::actor spawn_node(caf::actor_system& sys, node_options o) {
  return sys.spawn(node_fn, std::move(o));
}

}  // namespace recflow
