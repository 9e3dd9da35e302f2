#include "recflow/engine/implicit_graph.hpp"

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/implicit_owner.hpp"
#include "recflow/engine/engine_actors.hpp"
#include "recflow/engine/graph_options.hpp"
#include "recflow/engine/implicit_driver.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

struct implicit_graph::impl {
  implicit_stream_params params;
  implicit_graph_options options;
  partitioner by_user, by_item;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::optional<caf::scoped_actor> self;
  std::vector<std::shared_ptr<implicit_shard>> users, items;
  std::vector<caf::actor> user_owners, item_owners;
  std::shared_ptr<const implicit_side_view> user_view, item_view;
  std::optional<implicit_driver> driver;

  implicit_driver::hooks hooks() {
    implicit_driver::hooks h;
    h.send_events = [this](side s, std::uint32_t shard, std::uint64_t batch,
                           std::vector<stamped_event>&& events) {
      (*self)->send((s == side::user ? user_owners : item_owners)[shard],
                    implicit_events{batch, std::move(events)});
    };
    // A solve reads the other side's shards in place and its Gram matrix.
    h.send_solve = [this](side s, std::uint64_t batch, std::uint32_t pass,
                          const exact_gram& other) {
      const bool user = s == side::user;
      auto input = std::make_shared<implicit_solve_input>();
      input->other = user ? *item_view : *user_view;
      input->gram = other.to_matrix();
      std::shared_ptr<const implicit_solve_input> shared = std::move(input);
      for (const auto& a : user ? user_owners : item_owners)
        (*self)->send(a, implicit_solve{batch, pass, shared});
    };
    h.lost = [](const caf::down_msg& dm, std::uint64_t) {
      return error{errc::io, "an implicit owner stopped unexpectedly: " + caf::to_string(dm.reason)};
    };
    h.stalled = [this](std::uint64_t) {
      return error{errc::io, "no progress for " + std::to_string(options.stall_timeout.count())
                               + " ms; the implicit graph is stuck"};
    };
    h.rejected = [](const frame_rejected& r, std::uint64_t) {
      return error{errc::corrupt, r.message};
    };
    return h;
  }
};

implicit_graph::implicit_graph(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

implicit_graph::~implicit_graph() {
  if (!impl_ || !impl_->self)
    return;
  stop_actors(*impl_->self, {&impl_->user_owners, &impl_->item_owners});
}

result<std::unique_ptr<implicit_graph>> implicit_graph::make(const implicit_stream_params& p,
                                                             const implicit_graph_options& o,
                                                             const factor_model* seed) {
  if (auto ok = validate(p, seed); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto g = std::make_unique<impl>();
  g->params = p;
  g->options = o;
  g->by_user = user_partitioner_or_hash(o.user_partitioner, o.partitions);
  g->by_item = item_partitioner_or_hash(o.item_partitioner, o.partitions);
  exact_gram user_gram(p.als.rank), item_gram(p.als.rank);
  const auto n = static_cast<std::uint32_t>(o.partitions);
  for (std::uint32_t s = 0; s < n; ++s) {
    g->users.push_back(std::make_shared<implicit_shard>(side::user, p));
    g->items.push_back(std::make_shared<implicit_shard>(side::item, p));
    if (seed) {
      g->users.back()->seed(*seed, [&](std::int64_t id) { return g->by_user(id) == s; });
      g->items.back()->seed(*seed, [&](std::int64_t id) { return g->by_item(id) == s; });
    }
    user_gram.add(g->users.back()->gram());
    item_gram.add(g->items.back()->gram());
  }
  auto view = [](const std::vector<std::shared_ptr<implicit_shard>>& shards, partitioner part) {
    auto v = std::make_shared<implicit_side_view>();
    for (const auto& s : shards)
      v->shards.push_back(s.get());
    v->shard_of = [part](std::int64_t id) { return static_cast<std::uint32_t>(part(id)); };
    return std::shared_ptr<const implicit_side_view>(std::move(v));
  };
  g->user_view = view(g->users, g->by_user);
  g->item_view = view(g->items, g->by_item);

  add_implicit_message_types(g->cfg);
  configure_scheduler(g->cfg, o.workers, o.priority);
  g->sys.emplace(g->cfg);
  g->self.emplace(*g->sys);
  auto me = caf::actor_cast<caf::actor>(*g->self);
  for (std::uint32_t s = 0; s < n; ++s) {
    g->user_owners.push_back(spawn_implicit_owner(*g->sys, g->users[s], s, me));
    g->item_owners.push_back(spawn_implicit_owner(*g->sys, g->items[s], s, me));
    (*g->self)->monitor(g->user_owners.back());
    (*g->self)->monitor(g->item_owners.back());
  }
  g->driver.emplace(*g->self, p.als.rank, p.passes, o.partitions, g->by_user, g->by_item,
                    o.stall_timeout, g->hooks());
  g->driver->start(user_gram, item_gram);
  return std::unique_ptr<implicit_graph>(new implicit_graph(std::move(g)));
}

result<void> implicit_graph::step(std::span<const stamped_event> events, std::uint64_t batch) {
  return impl_->driver->step(events, batch);
}

factor_model implicit_graph::model(const implicit_model_order& order) const {
  std::vector<const implicit_shard*> us, is;
  for (const auto& s : impl_->users)
    us.push_back(s.get());
  for (const auto& s : impl_->items)
    is.push_back(s.get());
  return assemble_implicit_model(us, is, impl_->params.als.rank, order);
}

}  // namespace recflow
