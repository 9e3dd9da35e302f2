#include "recflow/actors/tune_worker.hpp"

namespace recflow {

caf::actor spawn_tune_worker(caf::actor_system& sys, std::shared_ptr<const tune_task_fn> run,
                             std::uint64_t id, caf::actor coordinator) {
  return sys.spawn([run = std::move(run), id,
                    coordinator = std::move(coordinator)](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](tune_run_atom, std::uint64_t task) {
        (*run)(task);
        self->send(coordinator, tune_done_atom::value, id, task);
      },
    };
  });
}

}  // namespace recflow
