/// The CAF side that local_engine and cluster_engine share around their coordinator
/// (engine/coordinator.hpp): the driving thread's message handlers, wiring the owners,
/// loading a model into them and gathering their shards; and what every engine does with
/// its actors when it ends (stop_actors).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/engine/coordinator.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

/// Waits for one message on `self` and hands it to `core`: the source's answers, the
/// partition step's and the owners' reports, shard copies, a rejected frame. Reports for
/// which `current()` is false (from actors of an earlier deployment) are dropped. `more`
/// are the engine's own handlers after these (views, down messages, the stall timeout).
template <class Current, class... More>
void receive_round(caf::scoped_actor& self, coordinator& core, Current current, More&&... more) {
  self->receive(
    [&](rating_batch& b) { core.on_pulled(std::move(b)); },
    [&](end_atom) { core.on_end(); },
    [&](source_failed& f) { core.on_source_failed(error{static_cast<errc>(f.code), f.message}); },
    [&](partition_done& d) {
      if (current())
        core.on_routed(d);
    },
    [&](owner_done& d) {
      if (current())
        core.on_owner_done(d);
    },
    [&](shard_parts& p) {
      if (current())
        core.on_parts(std::move(p));
    },
    [&](frame_rejected& r) {  // a frame failed its checks
      if (current())
        core.fail(error{errc::corrupt,
                        "at batch " + std::to_string(core.current_batch()) + ": " + r.message});
    },
    std::forward<More>(more)...);
}

/// An engine's state built and started: validates `g` and `o`, constructs `Impl` from
/// them and calls its start() (seeding the owners, or connecting to the nodes).
template <class Impl, class Options>
result<std::unique_ptr<Impl>> start_engine(streaming_graph g, const Options& o) {
  if (auto ok = validate(g); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto state = std::make_unique<Impl>(std::move(g), o);
  if (auto ok = state->start(); !ok)
    return ok.err();
  return state;
}

/// Sends each owner the other side's handles, and monitors the owners and `partition`.
void wire_owners(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                 const std::vector<caf::actor>& items, const caf::actor& partition);

/// Which owner failed to take its part of a model, and how.
struct load_failure {
  recflow::side side = recflow::side::user;  ///< which owner
  std::size_t shard = 0;
  bool answered = false;  ///< it refused the part (else it did not answer: lost)
  std::string message;
};

/// Loads `m` into the owners (shard s of each side gets the keys its partitioner routes
/// to it, see split_model), each within `timeout`; stops at the first owner that fails.
std::optional<load_failure> load_model(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                                       const std::vector<caf::actor>& items, const factor_model& m,
                                       const streaming_graph& g, std::chrono::milliseconds timeout);

/// Every owner's shard (snapshot_atom), by side; or the first owner that did not answer
/// within `timeout` and why.
struct gathered_shards {
  std::vector<shard_parts> users, items;
  caf::actor failed{};         ///< null when every owner answered
  std::string why;
};
gathered_shards gather_shards(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                              const std::vector<caf::actor>& items, std::chrono::milliseconds timeout);

/// Sends every actor of `groups` (null handles skipped) an exit, user_shutdown, from
/// `self`: how an engine stops its owners or blocks when it ends.
void stop_actors(caf::scoped_actor& self,
                 std::initializer_list<const std::vector<caf::actor>*> groups);

}  // namespace recflow
