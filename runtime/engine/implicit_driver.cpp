#include "recflow/engine/implicit_driver.hpp"

#include <string>

namespace recflow {

implicit_driver::implicit_driver(caf::scoped_actor& self, int rank, int passes,
                                 std::size_t shards, partitioner by_user, partitioner by_item,
                                 std::chrono::milliseconds stall, hooks h)
  : self_(self), rank_(rank), passes_(passes), shards_(shards), by_user_(std::move(by_user)),
    by_item_(std::move(by_item)), stall_(stall), hooks_(std::move(h)), user_gram_(rank),
    item_gram_(rank) {}

result<void> implicit_driver::await(std::uint64_t batch, bool user_side, bool item_side) {
  const std::size_t expected = (user_side ? shards_ : 0) + (item_side ? shards_ : 0);
  if (user_side)
    user_gram_.clear();
  if (item_side)
    item_gram_.clear();
  exact_gram part;
  std::vector<std::uint8_t> seen(2 * shards_, 0);
  for (std::size_t done = 0; done < expected && !failed_;) {
    self_->receive(
      [&](implicit_owner_done& d) {
        const bool user = d.side == side::user;
        const auto slot = (user ? 0 : shards_) + d.shard;
        if (d.batch != batch || !is_side(d.side) || !(user ? user_side : item_side)
            || d.shard >= shards_ || seen[slot] || !part.assign(rank_, d.gram)) {
          failed_ = error{errc::io, std::string("an implicit ") + to_string(d.side)
                                      + " owner answered out of turn (batch "
                                      + std::to_string(d.batch) + " during batch "
                                      + std::to_string(batch) + ")"};
          return;
        }
        seen[slot] = 1;
        (user ? user_gram_ : item_gram_).add(part);
        ++done;
      },
      [&](frame_rejected& r) { failed_ = hooks_.rejected(r, batch); },
      [&](caf::down_msg& dm) { failed_ = hooks_.lost(dm, batch); },
      caf::after(stall_) >> [&] { failed_ = hooks_.stalled(batch); });
  }
  if (failed_)
    return *failed_;
  return {};
}

result<void> implicit_driver::step(std::span<const stamped_event> events, std::uint64_t batch) {
  if (failed_)
    return *failed_;
  // The partition step: each owner gets the events of its keys, in batch order.
  std::vector<std::vector<stamped_event>> to_users(shards_), to_items(shards_);
  for (const auto& e : events) {
    to_users[by_user_(e.user)].push_back(e);
    to_items[by_item_(e.item)].push_back(e);
  }
  for (std::size_t s = 0; s < shards_; ++s) {
    hooks_.send_events(side::user, std::uint32_t(s), batch, std::move(to_users[s]));
    hooks_.send_events(side::item, std::uint32_t(s), batch, std::move(to_items[s]));
  }
  if (auto ok = await(batch, true, true); !ok)
    return ok;
  for (int pass = 0; pass < passes_; ++pass) {
    const auto k = static_cast<std::uint32_t>(pass);
    hooks_.send_solve(side::user, batch, k, item_gram_);
    if (auto ok = await(batch, true, false); !ok)
      return ok;
    hooks_.send_solve(side::item, batch, k, user_gram_);
    if (auto ok = await(batch, false, true); !ok)
      return ok;
  }
  return {};
}

}  // namespace recflow
