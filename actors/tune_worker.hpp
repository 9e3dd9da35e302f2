/// A tuning worker: runs trials of `recflow tune` when the pool's coordinator hands it
/// one, and reports back. The trial itself (training and scoring a candidate) is plain
/// model code (tune/tune.hpp); the actor only unpacks the message and calls it.
///
///   coordinator --(tune_run_atom, task)--> worker: run(task) --(tune_done_atom, worker, task)--> coordinator
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/all.hpp>

namespace recflow {

using tune_run_atom = caf::atom_constant<caf::atom("tunerun")>;    ///< coordinator -> worker
using tune_done_atom = caf::atom_constant<caf::atom("tunedone")>;  ///< worker -> coordinator

/// What a worker calls for a task number; must not throw.
using tune_task_fn = std::function<void(std::uint64_t task)>;

/// Spawns worker `id`: on (tune_run_atom, task) it calls `(*run)(task)` and sends
/// (tune_done_atom, id, task) to `coordinator`. Atoms and integers only, so nothing needs
/// registering.
caf::actor spawn_tune_worker(caf::actor_system& sys, std::shared_ptr<const tune_task_fn> run,
                             std::uint64_t id, caf::actor coordinator);

}  // namespace recflow
