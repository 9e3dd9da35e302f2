/// A task_runner (model/parallel.hpp) on threads of its own: what gives a model
/// computation that splits into tasks, such as the final ranking of `recflow stream`, the
/// cores the job was given.
///
///   auto ranked = evaluate_ranking(model, test, {}, thread_tasks(2));
#pragma once

#include <cstddef>

#include "recflow/model/parallel.hpp"

namespace recflow {

/// Runs a call's tasks on `threads` threads, the calling one among them (threads - 1 are
/// started per call and joined before it returns), each taking the next task in order;
/// 0 or 1: every task on the calling thread. An exception thrown by a task is rethrown
/// to the caller once every thread has stopped (the first one, if several throw).
task_runner thread_tasks(std::size_t threads);

}  // namespace recflow
