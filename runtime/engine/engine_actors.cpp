#include "recflow/engine/engine_actors.hpp"

#include "recflow/engine/snapshot.hpp"

namespace recflow {

void wire_owners(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                 const std::vector<caf::actor>& items, const caf::actor& partition) {
  for (auto& u : users)
    self->send(u, peer_list{items});
  for (auto& i : items)
    self->send(i, peer_list{users});
  for (auto* group : {&users, &items})
    for (auto& a : *group)
      self->monitor(a);
  self->monitor(partition);
}

std::optional<load_failure> load_model(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                                       const std::vector<caf::actor>& items, const factor_model& m,
                                       const streaming_graph& g, std::chrono::milliseconds timeout) {
  auto split = split_model(m, g.partitions, g.user_partitioner, g.item_partitioner);
  std::optional<load_failure> failed;
  auto load = [&](const caf::actor& owner, seed_shard& part, side which, std::size_t s) {
    self->request(owner, timeout, std::move(part))
      .receive(
        [&](const std::string& message) {
          if (!message.empty())
            failed = load_failure{which, s, true, message};
        },
        [&](caf::error& e) { failed = load_failure{which, s, false, self->system().render(e)}; });
  };
  for (std::size_t s = 0; s < g.partitions && !failed; ++s) {
    load(users[s], split.users[s], side::user, s);
    if (!failed)
      load(items[s], split.items[s], side::item, s);
  }
  return failed;
}

gathered_shards gather_shards(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                              const std::vector<caf::actor>& items, std::chrono::milliseconds timeout) {
  gathered_shards out;
  for (auto* group : {&users, &items})
    for (auto& a : *group) {
      if (out.failed)
        return out;
      self->request(a, timeout, snapshot_atom::value)
        .receive([&](shard_parts& p) { (p.side == side::user ? out.users : out.items).push_back(std::move(p)); },
                 [&](caf::error& e) {
                   out.failed = a;
                   out.why = self->system().render(e);
                 });
    }
  return out;
}

void stop_actors(caf::scoped_actor& self,
                 std::initializer_list<const std::vector<caf::actor>*> groups) {
  for (const auto* group : groups)
    for (const auto& a : *group)
      if (a)
        self->send_exit(a, caf::exit_reason::user_shutdown);
}

}  // namespace recflow
