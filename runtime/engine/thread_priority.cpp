#include "recflow/engine/thread_priority.hpp"

#include <charconv>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace recflow {

result<thread_priority> thread_priority::parse(std::string_view text) {
  if (text == "idle")
    return thread_priority{.nice = 0, .idle = true};
  int nice = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), nice);
  if (ec != std::errc{} || end != text.data() + text.size() || nice < 0 || nice > 19)
    return error{errc::invalid_argument,
                 "training priority must be 'idle' or a nice value in 0..19, got '"
                   + std::string(text.substr(0, 40)) + "'"};
  return thread_priority{.nice = nice, .idle = false};
}

std::string thread_priority::text() const { return idle ? "idle" : std::to_string(nice); }

result<void> validate(const thread_priority& p) {
  if (!p.idle && (p.nice < 0 || p.nice > 19))
    return error{errc::invalid_argument, "nice must be in 0..19, got " + std::to_string(p.nice)};
  return {};
}

void lower_thread_priority(thread_priority p) {
#if defined(__linux__)
  if (p.idle) {
    sched_param none{};
    (void)sched_setscheduler(0, SCHED_IDLE, &none);  // 0: the calling thread
  } else if (p.nice > 0) {
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), p.nice);
  }
#else
  (void)p;
#endif
}

}  // namespace recflow
