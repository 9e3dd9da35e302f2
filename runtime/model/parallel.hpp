/// How a computation of the model that splits into independent tasks runs them. The model
/// layer starts no thread of its own: a caller that has threads to spare passes a runner
/// (the engine's thread_tasks(n), for one), and without one the tasks run in order on the
/// calling thread.
#pragma once

#include <cstddef>
#include <functional>

namespace recflow {

/// Calls body(t) for every t < n, in any order and on any threads, and returns once all
/// calls have returned. The tasks a model function hands it write disjoint results, so
/// the outcome does not depend on the order.
using task_runner =
  std::function<void(std::size_t n, const std::function<void(std::size_t)>& body)>;

/// body(0..n-1) through `run`, or in order here when it is empty.
inline void run_tasks(const task_runner& run, std::size_t n,
                      const std::function<void(std::size_t)>& body) {
  if (run) {
    run(n, body);
    return;
  }
  for (std::size_t t = 0; t < n; ++t)
    body(t);
}

}  // namespace recflow
