/// Runs the trials of `recflow tune` on a pool of CAF worker actors in this process.
///
///   auto report = run_search(space, defaults, objective, options, actor_pool_executor(2));
///
/// The coordinator (the calling thread) hands each worker one task, and the next as soon
/// as it reports, so long trials (a high rank) do not hold up the others. Each trial
/// writes only its own result slot, and the search ranks by (score, candidate number):
/// the outcome is the same for any number of workers.
#pragma once

#include <cstddef>

#include "recflow/tune/tune.hpp"

namespace recflow {

/// A task_executor on `workers` actors (an actor system with that many scheduler threads,
/// started for each set of tasks). workers == 0 is treated as 1.
task_executor actor_pool_executor(std::size_t workers);

}  // namespace recflow
