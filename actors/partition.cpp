#include "recflow/actors/partition.hpp"

namespace recflow {

partition_state::slices partition_state::split(const stamped_batch& b) {
  slices out;
  auto nu = by_user_.partitions();
  auto ni = by_item_.partitions();
  const auto& rs = b.ratings.ratings;
  // Each rating's two shards first, so that every slice is reserved at its exact size: a
  // share reserved from the average regrows (to twice its size, copied) whenever a
  // shard gets more than its share.
  shards_.resize(rs.size());
  std::vector<std::size_t> to_user(nu, 0), to_item(ni, 0);
  for (std::size_t k = 0; k < rs.size(); ++k) {
    auto us = static_cast<std::uint32_t>(by_user_(rs[k].user));
    auto is = static_cast<std::uint32_t>(by_item_(rs[k].item));
    shards_[k] = {us, is};
    ++to_user[us];
    ++to_item[is];
  }
  out.users.resize(nu);
  out.items.resize(ni);
  for (std::size_t s = 0; s < nu; ++s) {
    out.users[s].stamp = b.stamp;
    out.users[s].routes.reserve(to_user[s]);
  }
  for (std::size_t t = 0; t < ni; ++t) {
    out.items[t].stamp = b.stamp;
    out.items[t].routes.reserve(to_item[t]);
  }
  for (std::size_t k = 0; k < rs.size(); ++k) {
    auto [us, is] = shards_[k];
    auto pos = static_cast<std::uint32_t>(k);
    out.users[us].routes.push_back({rs[k].user, pos, is});
    out.items[is].routes.push_back({rs[k].item, rs[k].value, pos, us});
  }
  return out;
}

namespace {

struct partition_actor {
  std::optional<partition_state> core;
  static inline const char* name = "recflow.partition";
};

caf::behavior partition_fn(caf::stateful_actor<partition_actor>* self, partitioner by_user,
                           partitioner by_item, std::vector<caf::actor> users,
                           std::vector<caf::actor> items, caf::actor coordinator) {
  self->state.core.emplace(std::move(by_user), std::move(by_item));
  return {
    [=](const stamped_batch& b) {
      auto out = self->state.core->split(b);
      partition_done done{b.stamp.batch, {}, {}};
      for (std::size_t s = 0; s < users.size(); ++s) {
        done.to_users.messages += 1;
        done.to_users.bytes += sizeof(user_slice) + out.users[s].routes.size() * sizeof(user_route);
        self->send(users[s], std::move(out.users[s]));
      }
      for (std::size_t t = 0; t < items.size(); ++t) {
        done.to_items.messages += 1;
        done.to_items.bytes += sizeof(item_slice) + out.items[t].routes.size() * sizeof(item_route);
        self->send(items[t], std::move(out.items[t]));
      }
      self->send(coordinator, done);
    },
  };
}

}  // namespace

caf::actor spawn_partition(caf::actor_system& sys, partitioner by_user, partitioner by_item,
                           std::vector<caf::actor> users, std::vector<caf::actor> items,
                           caf::actor coordinator) {
  return sys.spawn(partition_fn, std::move(by_user), std::move(by_item), std::move(users),
                   std::move(items), std::move(coordinator));
}

}  // namespace recflow
