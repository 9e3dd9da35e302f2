#include "recflow/engine/implicit_graph.hpp"

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/implicit_owner.hpp"
#include "recflow/engine/graph_options.hpp"
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
  exact_gram user_gram, item_gram;  // each side's, as its owners last reported
  std::uint64_t batch = 0;  // the batch in progress (1-based)
  std::optional<error> failed;

  /// Waits for one report of batch `batch` from each owner of the sides named; each
  /// side's Gram matrix becomes the sum of its owners' reports.
  result<void> await(std::uint64_t batch, bool user_side, bool item_side) {
    const std::size_t expected = (user_side ? users.size() : 0) + (item_side ? items.size() : 0);
    if (user_side)
      user_gram.clear();
    if (item_side)
      item_gram.clear();
    exact_gram part;
    for (std::size_t done = 0; done < expected && !failed;) {
      (*self)->receive(
        [&](implicit_owner_done& d) {
          const bool user = d.side == side::user;
          if (d.batch != batch || !(user ? user_side : item_side)
              || !part.assign(params.als.rank, d.gram)) {
            failed = error{errc::io, std::string("an implicit ") + to_string(d.side)
                                       + " owner answered out of turn (batch "
                                       + std::to_string(d.batch) + " during batch "
                                       + std::to_string(batch) + ")"};
            return;
          }
          (user ? user_gram : item_gram).add(part);
          ++done;
        },
        [&](caf::down_msg& dm) {
          failed = error{errc::io, "an implicit owner stopped unexpectedly: "
                                     + caf::to_string(dm.reason)};
        },
        caf::after(options.stall_timeout) >> [&] {
          failed = error{errc::io, "no progress for " + std::to_string(options.stall_timeout.count())
                                     + " ms; the implicit graph is stuck"};
        });
    }
    if (failed)
      return *failed;
    return {};
  }

  /// One solve step of side `s` against the other side's shards and Gram matrix.
  result<void> solve(side s, std::uint32_t pass) {
    const bool user = s == side::user;
    auto input = std::make_shared<implicit_solve_input>();
    input->other = user ? *item_view : *user_view;
    input->gram = (user ? item_gram : user_gram).to_matrix();
    std::shared_ptr<const implicit_solve_input> shared = std::move(input);
    for (const auto& a : user ? user_owners : item_owners)
      (*self)->send(a, implicit_solve{batch, pass, shared});
    return await(batch, user, !user);
  }
};

implicit_graph::implicit_graph(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

implicit_graph::~implicit_graph() {
  if (!impl_ || !impl_->self)
    return;
  for (auto* group : {&impl_->user_owners, &impl_->item_owners})
    for (auto& a : *group)
      (*impl_->self)->send_exit(a, caf::exit_reason::user_shutdown);
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
  g->user_gram = g->item_gram = exact_gram(p.als.rank);
  const auto n = static_cast<std::uint32_t>(o.partitions);
  for (std::uint32_t s = 0; s < n; ++s) {
    g->users.push_back(std::make_shared<implicit_shard>(side::user, p));
    g->items.push_back(std::make_shared<implicit_shard>(side::item, p));
    if (seed) {
      g->users.back()->seed(*seed, [&](std::int64_t id) { return g->by_user(id) == s; });
      g->items.back()->seed(*seed, [&](std::int64_t id) { return g->by_item(id) == s; });
    }
    g->user_gram.add(g->users.back()->gram());
    g->item_gram.add(g->items.back()->gram());
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
  return std::unique_ptr<implicit_graph>(new implicit_graph(std::move(g)));
}

result<void> implicit_graph::step(std::span<const stamped_event> events, std::uint64_t batch) {
  auto& g = *impl_;
  if (g.failed)
    return *g.failed;
  g.batch = batch;
  // The partition step: each owner gets the events of its keys, in batch order.
  const auto n = g.users.size();
  std::vector<implicit_events> to_users(n), to_items(n);
  for (const auto& e : events) {
    to_users[g.by_user(e.user)].events.push_back(e);
    to_items[g.by_item(e.item)].events.push_back(e);
  }
  for (std::size_t s = 0; s < n; ++s) {
    to_users[s].batch = to_items[s].batch = batch;
    (*g.self)->send(g.user_owners[s], std::move(to_users[s]));
    (*g.self)->send(g.item_owners[s], std::move(to_items[s]));
  }
  if (auto ok = g.await(batch, true, true); !ok)
    return ok;
  for (int pass = 0; pass < g.params.passes; ++pass) {
    const auto k = static_cast<std::uint32_t>(pass);
    if (auto ok = g.solve(side::user, k); !ok)
      return ok;
    if (auto ok = g.solve(side::item, k); !ok)
      return ok;
  }
  return {};
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
