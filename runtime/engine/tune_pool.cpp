#include "recflow/engine/tune_pool.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/tune_worker.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

task_executor actor_pool_executor(std::size_t workers) {
  workers = std::max<std::size_t>(workers, 1);
  return [workers](std::size_t n, const std::function<void(std::size_t)>& run,
                   const std::function<void(std::size_t)>& done) {
    if (n == 0)
      return;
    caf::actor_system_config cfg;
    configure_scheduler(cfg, workers);
    caf::actor_system sys(cfg);
    auto fn = std::make_shared<const tune_task_fn>(
      [&run](std::uint64_t task) { run(static_cast<std::size_t>(task)); });
    caf::scoped_actor self(sys);
    auto me = caf::actor_cast<caf::actor>(self);
    const std::size_t size = std::min(workers, n);
    std::vector<caf::actor> pool;
    for (std::size_t w = 0; w < size; ++w) {
      pool.push_back(spawn_tune_worker(sys, fn, w, me));
      self->monitor(pool.back());
    }
    std::size_t next = 0, in_flight = 0;
    std::vector<bool> alive(size, true);
    for (std::size_t w = 0; w < size; ++w, ++next, ++in_flight)
      self->send(pool[w], tune_run_atom::value, static_cast<std::uint64_t>(next));
    // A worker that stops (it should not: tasks do not throw) loses its task, which then
    // has no result; the search reports it. The others carry on.
    while (in_flight > 0) {
      self->receive(
        [&](tune_done_atom, std::uint64_t w, std::uint64_t task) {
          --in_flight;
          done(static_cast<std::size_t>(task));
          if (next < n && alive[w]) {
            self->send(pool[w], tune_run_atom::value, static_cast<std::uint64_t>(next++));
            ++in_flight;
          }
        },
        [&](caf::down_msg& dm) {
          for (std::size_t w = 0; w < size; ++w)
            if (alive[w] && pool[w].address() == dm.source) {
              alive[w] = false;
              --in_flight;
            }
        });
    }
    for (auto& a : pool)
      self->send_exit(a, caf::exit_reason::user_shutdown);
  };
}

}  // namespace recflow
