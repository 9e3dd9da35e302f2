#include "recflow/engine/implicit_cluster.hpp"

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/implicit_cluster_owner.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/engine/cluster_connect.hpp"
#include "recflow/engine/engine_actors.hpp"
#include "recflow/engine/implicit_driver.hpp"
#include "recflow/engine/scheduler.hpp"
#include "recflow/graph/implicit_wire.hpp"

namespace recflow {

struct implicit_cluster::impl {
  implicit_stream_params params;
  implicit_cluster_options options;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::optional<caf::scoped_actor> self;
  std::unique_ptr<link_layer> links;
  std::vector<caf::actor> nodes;
  node_placement where;
  std::vector<caf::actor> user_owners, item_owners;
  std::optional<implicit_driver> driver;

  std::string node_name(std::size_t n) const { return options.nodes[n].name(); }
  std::string owner_name(side s, std::size_t shard) const {
    const auto& placed = s == side::user ? where.user_node : where.item_node;
    return std::string(to_string(s)) + " owner " + std::to_string(shard) + " on node "
           + node_name(placed[shard]);
  }

  /// Spawns the owner of shard `shard` of side `s` on its node, holding `seed`.
  result<caf::actor> spawn(side s, std::uint32_t shard, wire::bytes seed) {
    const auto n = (s == side::user ? where.user_node : where.item_node)[shard];
    implicit_owner_spec spec{params, s, shard, caf::actor_cast<caf::actor>(*self),
                             wire_frame{std::move(seed)}};
    std::optional<error> err;
    caf::actor out;
    (*self)->request(nodes[n], options.connect_timeout, std::move(spec))
      .receive(
        [&](caf::actor& a, std::string& why) {
          if (!a)
            err = error{errc::invalid_argument, "node " + node_name(n) + " refused to spawn "
                                                  + owner_name(s, shard) + ": " + why};
          out = std::move(a);
        },
        [&](caf::error& e) {
          err = error{errc::io, "node " + node_name(n) + " did not spawn " + owner_name(s, shard)
                                  + ": " + sys->render(e)};
        });
    if (err)
      return *err;
    (*self)->monitor(out);
    return out;
  }

  implicit_driver::hooks hooks() {
    implicit_driver::hooks h;
    h.send_events = [this](side s, std::uint32_t shard, std::uint64_t batch,
                           std::vector<stamped_event>&& events) {
      (*self)->send((s == side::user ? user_owners : item_owners)[shard],
                    implicit_events_atom::value,
                    wire_frame{wire::encode_implicit_events(batch, events)});
    };
    h.send_solve = [this](side s, std::uint64_t batch, std::uint32_t pass,
                          const exact_gram& other) {
      const implicit_remote_solve m{batch, pass, other.words()};
      for (const auto& a : s == side::user ? user_owners : item_owners)
        (*self)->send(a, m);
    };
    h.lost = [this](const caf::down_msg& dm, std::uint64_t batch) {
      const auto why = sys->render(dm.reason);
      if (auto n = node_index(nodes, dm.source.node()))
        return error{errc::io, "lost node " + node_name(*n) + " at batch " + std::to_string(batch)
                                 + " (" + why + ")"};
      return error{errc::io, "an implicit owner stopped unexpectedly at batch "
                               + std::to_string(batch) + ": " + why};
    };
    h.stalled = [this](std::uint64_t batch) {
      const auto ms = std::to_string(options.graph.stall_timeout.count());
      const auto who = silent_node(*self, nodes, options.nodes);
      if (who.empty())
        return error{errc::io, "no progress for " + ms + " ms at batch " + std::to_string(batch)};
      return error{errc::io, "lost node " + who + " at batch " + std::to_string(batch)
                               + " (no reply for " + ms + " ms)"};
    };
    h.rejected = [this](const frame_rejected& r, std::uint64_t batch) {
      return error{errc::corrupt, "at batch " + std::to_string(batch) + ": "
                                    + name_nodes(r.message, nodes, options.nodes)};
    };
    return h;
  }

  void stop() {
    if (self)
      stop_actors(*self, {&user_owners, &item_owners});
  }
};

std::string explain_implicit_cluster(const implicit_cluster_options& o) {
  return describe(place_round_robin(o.graph.partitions, o.nodes.size()), o.nodes,
                  "events, partition (events as wire frames), coordinator, model assembly");
}

implicit_cluster::implicit_cluster(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

implicit_cluster::~implicit_cluster() {
  if (impl_)
    impl_->stop();
}

result<std::unique_ptr<implicit_cluster>> implicit_cluster::make(const implicit_stream_params& p,
                                                                 const implicit_cluster_options& o,
                                                                 const factor_model* seed) {
  if (auto ok = validate(p, seed); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (p.als.rank > int(wire::max_rank))
    return error{errc::invalid_argument, "rank " + std::to_string(p.als.rank)
                                           + " is above the wire format's "
                                           + std::to_string(wire::max_rank)};
  auto c = std::make_unique<impl>();
  c->params = p;
  c->options = o;
  const auto parts = o.graph.partitions;
  const auto by_user = user_partitioner_or_hash(o.graph.user_partitioner, parts);
  const auto by_item = item_partitioner_or_hash(o.graph.item_partitioner, parts);
  add_graph_message_types(c->cfg);
  add_cluster_message_types(c->cfg);
  configure_cluster_middleman(c->cfg);
  configure_scheduler(c->cfg, o.graph.workers, o.graph.priority);
  c->sys.emplace(c->cfg);
  c->self.emplace(*c->sys);
  auto links = link_layer::start(*c->sys, {.files = o.tls}, o.secret);
  if (!links)
    return links.err();
  c->links = std::move(*links);
  auto nodes = connect_nodes(*c->sys, *c->self, *c->links, o.nodes, o.secret, o.connect_timeout);
  if (!nodes)
    return nodes.err();
  c->nodes = std::move(*nodes);
  c->where = place_round_robin(parts, c->nodes.size());
  exact_gram user_gram(p.als.rank), item_gram(p.als.rank);
  for (auto s : {side::user, side::item}) {
    const auto& part = s == side::user ? by_user : by_item;
    for (std::uint32_t k = 0; k < parts; ++k) {
      wire::bytes blob;
      if (seed) {  // the seed's shard travels with the spawn; its Gram matrix stays here
        implicit_shard shard(s, p);
        shard.seed(*seed, [&](std::int64_t id) { return part(id) == k; });
        (s == side::user ? user_gram : item_gram).add(shard.gram());
        blob = wire::encode_implicit_shard(shard.parts());
      }
      auto a = c->spawn(s, k, std::move(blob));
      if (!a) {
        c->stop();
        return a.err();
      }
      (s == side::user ? c->user_owners : c->item_owners).push_back(*a);
    }
  }
  for (const auto& a : c->user_owners)
    (*c->self)->send(a, peer_list{c->item_owners});
  for (const auto& a : c->item_owners)
    (*c->self)->send(a, peer_list{c->user_owners});
  c->driver.emplace(*c->self, p.als.rank, p.passes, parts, by_user, by_item,
                    o.graph.stall_timeout, c->hooks());
  c->driver->start(user_gram, item_gram);
  return std::unique_ptr<implicit_cluster>(new implicit_cluster(std::move(c)));
}

result<void> implicit_cluster::step(std::span<const stamped_event> events, std::uint64_t batch) {
  return impl_->driver->step(events, batch);
}

result<factor_model> implicit_cluster::snapshot(const implicit_model_order& order) const {
  auto& c = *impl_;
  if (const auto& failed = c.driver->failed())
    return *failed;
  std::vector<implicit_shard> users, items;
  for (auto s : {side::user, side::item}) {
    const auto& owners = s == side::user ? c.user_owners : c.item_owners;
    for (std::size_t k = 0; k < owners.size(); ++k) {
      std::optional<error> err;
      (*c.self)->request(owners[k], c.options.graph.stall_timeout, implicit_export_atom::value)
        .receive(
          [&](wire_frame& f) {
            auto parts = wire::decode_implicit_shard(f.bytes);
            if (parts && parts->owner != s)
              parts = error{errc::corrupt, "a shard of the other side"};
            auto shard = parts ? implicit_shard::from_parts(std::move(*parts), c.params)
                               : result<implicit_shard>(parts.err());
            if (!shard)
              err = error{errc::corrupt, c.owner_name(s, k) + " sent a snapshot that does not "
                                           "fit: " + shard.err().message};
            else
              (s == side::user ? users : items).push_back(std::move(*shard));
          },
          [&](caf::error& e) {
            const auto& placed = s == side::user ? c.where.user_node : c.where.item_node;
            err = error{errc::io, "lost node " + c.node_name(placed[k]) + " (collecting its "
                                    + to_string(s) + " owner " + std::to_string(k) + ": "
                                    + c.sys->render(e) + ")"};
          });
      if (err)
        return *err;
    }
  }
  std::vector<const implicit_shard*> us, is;
  for (const auto& s : users)
    us.push_back(&s);
  for (const auto& s : items)
    is.push_back(&s);
  return assemble_implicit_model(us, is, c.params.als.rank, order);
}

}  // namespace recflow
