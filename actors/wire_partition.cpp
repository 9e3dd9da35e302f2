#include "recflow/actors/wire_partition.hpp"

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/partition.hpp"
#include "recflow/graph/wire.hpp"

namespace recflow {

namespace {

struct wire_partition_actor {
  std::optional<partition_state> core;
  static inline const char* name = "recflow.wire_partition";
};

caf::behavior wire_partition_fn(caf::stateful_actor<wire_partition_actor>* self,
                                partitioner by_user, partitioner by_item,
                                std::vector<caf::actor> users, std::vector<caf::actor> items,
                                caf::actor coordinator) {
  self->state.core.emplace(std::move(by_user), std::move(by_item));
  return {
    [=](const stamped_batch& b) {
      auto out = self->state.core->split(b);
      partition_done done{b.stamp.batch, {}, {}};
      for (std::size_t s = 0; s < users.size(); ++s) {
        auto frame = wire::encode_user_slice(b.stamp, out.users[s].routes);
        done.to_users.messages += 1;
        done.to_users.bytes += frame.size();
        self->send(users[s], wire_frame{std::move(frame)});
      }
      for (std::size_t t = 0; t < items.size(); ++t) {
        auto frame = wire::encode_item_slice(b.stamp, out.items[t].routes);
        done.to_items.messages += 1;
        done.to_items.bytes += frame.size();
        self->send(items[t], wire_frame{std::move(frame)});
      }
      self->send(coordinator, done);
    },
  };
}

}  // namespace

caf::actor spawn_wire_partition(caf::actor_system& sys, partitioner by_user, partitioner by_item,
                                std::vector<caf::actor> users, std::vector<caf::actor> items,
                                caf::actor coordinator) {
  return sys.spawn(wire_partition_fn, std::move(by_user), std::move(by_item), std::move(users),
                   std::move(items), std::move(coordinator));
}

}  // namespace recflow
