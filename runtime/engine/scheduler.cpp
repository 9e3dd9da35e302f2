#include "recflow/engine/scheduler.hpp"

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include <caf/all.hpp>

namespace recflow {

/// affinity_policy.cpp: loads the affinity policy into `cfg`.
void load_affinity_scheduler(caf::actor_system_config& cfg);

namespace {
/// Lowers the priority of every thread the actor system starts (Linux: per thread).
class priority_hook : public caf::thread_hook {
 public:
  explicit priority_hook(thread_priority p) : priority_(p) {}
  void init(caf::actor_system&) override {}
  void thread_started() override { lower_thread_priority(priority_); }
  void thread_terminates() override {}

 private:
  thread_priority priority_;
};
}  // namespace

void set_thread_priority(caf::actor_system_config& cfg, thread_priority p) {
  if (p.lowered())
    cfg.add_thread_hook<priority_hook>(p);
}

std::uint64_t env_count(const char* name, std::uint64_t fallback, std::uint64_t lo,
                        std::uint64_t hi) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text < '0' || *text > '9')
    return fallback;
  char* end = nullptr;
  errno = 0;
  auto n = std::strtoull(text, &end, 10);
  return *end == '\0' && errno == 0 && n >= lo && n <= hi ? n : fallback;
}

std::size_t idle_polls_setting() {
  return static_cast<std::size_t>(env_count("RECFLOW_IDLE_POLLS", idle_polls, 1, 100'000'000));
}

const char* scheduler_policy_setting() {
  const char* text = std::getenv("RECFLOW_SCHEDULER");
  std::string_view named = text != nullptr ? text : "";
  return named == "stealing" ? "stealing" : named == "sharing" ? "sharing" : "affinity";
}

void configure_scheduler(caf::actor_system_config& cfg, std::size_t workers,
                         thread_priority p, std::string_view policy) {
  cfg.set("scheduler.max-threads", workers);
  if (policy == "sharing" || policy == "stealing")  // CAF's own
    cfg.set("scheduler.policy", caf::atom_from_string({policy.data(), policy.size()}));
  else
    load_affinity_scheduler(cfg);
  cfg.set("work-stealing.aggressive-poll-attempts",
          caf::config_value::integer(static_cast<std::int64_t>(idle_polls_setting())));
  set_thread_priority(cfg, p);
}

}  // namespace recflow
