/// How far training threads step back for the threads that answer queries (Linux; on other
/// systems lowering is a no-op).
///
///   auto p = thread_priority::parse("idle").value();   // or "10", "0"
///   lower_thread_priority(p);   // this thread, and every thread it starts from now on
///
/// - a nice value 1..19: the thread keeps running on a busy core for up to a scheduler
///   slice (about a millisecond) after a query's thread wakes;
/// - `idle` (SCHED_IDLE): any normal thread that wakes preempts it at once, so a query is
///   answered as if nothing trained. Training then runs on CPU nothing else on the machine
///   wants: on a machine shared with other busy work, a nice value keeps it a share.
///
/// Neither can be undone without privileges: call it on a thread that only trains.
#pragma once

#include <string>
#include <string_view>

#include "recflow/model/error.hpp"

namespace recflow {

struct thread_priority {
  int nice = 0;       ///< 0..19 (0: unchanged); ignored when `idle`
  bool idle = false;  ///< SCHED_IDLE instead of a nice value

  bool lowered() const noexcept { return idle || nice > 0; }
  /// "idle" or "0".."19"; anything else is an error naming the text.
  static result<thread_priority> parse(std::string_view text);
  /// "idle" or the nice value, as parse() reads it.
  std::string text() const;
  friend bool operator==(const thread_priority&, const thread_priority&) = default;
};

/// "nice must be in 0..19, got 20".
result<void> validate(const thread_priority& p);

/// Lowers the calling thread's priority to `p` (best effort: a refusal leaves it as it was).
void lower_thread_priority(thread_priority p);

}  // namespace recflow
