#include "recflow/actors/implicit_owner.hpp"

#include <chrono>

#include "recflow/actors/messages.hpp"

namespace recflow {

void add_implicit_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<implicit_events>("recflow::implicit_events");
  cfg.add_message_type<implicit_solve>("recflow::implicit_solve");
  cfg.add_message_type<implicit_owner_done>("recflow::implicit_owner_done");
}

implicit_owner_done owner_report(const implicit_shard& shard, std::uint32_t number,
                                 std::uint64_t batch, std::uint64_t solved, double busy_seconds) {
  implicit_owner_done d;
  d.batch = batch;
  d.side = shard.owner();
  d.shard = number;
  d.gram = shard.gram().words();
  d.solved = solved;
  d.busy_seconds = busy_seconds;
  return d;
}

namespace {

struct implicit_owner {
  std::shared_ptr<implicit_shard> shard;
  std::uint32_t number = 0;
  caf::actor coordinator;
  static inline const char* name = "recflow.implicit_owner";
};

using implicit_owner_self = caf::stateful_actor<implicit_owner>;
using clock = std::chrono::steady_clock;

void report(implicit_owner_self* self, std::uint64_t batch, std::uint64_t solved,
            clock::time_point t0) {
  auto& st = self->state;
  self->send(st.coordinator,
             owner_report(*st.shard, st.number, batch, solved,
                          std::chrono::duration<double>(clock::now() - t0).count()));
}

caf::behavior implicit_owner_fn(implicit_owner_self* self, std::shared_ptr<implicit_shard> shard,
                                std::uint32_t number, caf::actor coordinator) {
  self->state.shard = std::move(shard);
  self->state.number = number;
  self->state.coordinator = std::move(coordinator);
  return {
    [=](const implicit_events& m) {
      auto t0 = clock::now();
      self->state.shard->add_events(m.events, m.batch);
      report(self, m.batch, 0, t0);
    },
    [=](const implicit_solve& m) {
      auto t0 = clock::now();
      auto& shard = *self->state.shard;
      if (m.input)  // always in one process; a message without one solves nothing
        shard.solve(m.input->other, m.input->gram);
      report(self, m.batch, m.input ? shard.touched().size() : 0, t0);
    },
  };
}

}  // namespace

caf::actor spawn_implicit_owner(caf::actor_system& sys, std::shared_ptr<implicit_shard> shard,
                                std::uint32_t number, caf::actor coordinator) {
  return sys.spawn(implicit_owner_fn, std::move(shard), number, std::move(coordinator));
}

}  // namespace recflow
