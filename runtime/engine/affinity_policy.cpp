#include "recflow/engine/scheduler.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>

#include <sched.h>

#include <caf/actor_system.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace recflow {

namespace {

/// A spin loop's pause between two polls.
void relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

/// CAF 0.17 scheduling policy "affinity": a queue per worker for the actors given a worker
/// (prefer_worker), one shared queue for every other job; an idle worker polls for a short
/// while before it sleeps, and a worker is woken only while it sleeps. Pinned jobs are
/// never taken by another worker: where an actor runs is the engine's decision (see
/// local_engine: the owners of a small batch all share one worker).
///
/// Why: under work sharing any worker resumes any actor, and an actor's tables follow it
/// from one core's caches to the other's. Pinned, an owner's own tables stay in one
/// core's; what still crosses is the rows the owners exchange every pass. For a small
/// batch that exchange costs more than a second core gives back, and the local engine
/// then pins all its owners to one worker (docs/benchmarks.md).
class affinity_policy : public caf::policy::unprofiled {
 public:
  using job_queue = std::deque<caf::resumable*>;

  /// The actors given a worker: appended while the system runs, read lock-free by every
  /// enqueue (a few entries: an engine's owners).
  struct registry {
    static constexpr std::size_t capacity = 256;
    std::array<std::atomic<const caf::resumable*>, capacity> job{};
    std::array<std::atomic<std::uint32_t>, capacity> worker{};
    std::atomic<std::size_t> size{0};
    std::mutex append;

    /// The worker of `j`, or -1.
    long find(const caf::resumable* j) const noexcept {
      auto n = size.load(std::memory_order_acquire);
      for (std::size_t k = 0; k < n; ++k)
        if (job[k].load(std::memory_order_relaxed) == j)
          return long(worker[k].load(std::memory_order_relaxed));
      return -1;
    }

    void set(const caf::resumable* j, std::uint32_t w) {
      std::lock_guard<std::mutex> guard(append);
      auto n = size.load(std::memory_order_relaxed);
      for (std::size_t k = 0; k < n; ++k)
        if (job[k].load(std::memory_order_relaxed) == j) {
          worker[k].store(w, std::memory_order_relaxed);
          return;
        }
      if (n == capacity)
        return;  // a placement hint only: further actors run anywhere
      job[n].store(j, std::memory_order_relaxed);
      worker[n].store(w, std::memory_order_relaxed);
      size.store(n + 1, std::memory_order_release);
    }
  };

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {}
    std::mutex lock;   ///< guards every queue and every worker's `sleeping`
    job_queue shared;  ///< jobs of actors without a worker
    std::atomic<std::size_t> shared_size{0};
    registry pinned;
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {}
    worker_data(const worker_data&) {}  // CAF copies an empty one into every worker
    job_queue own;  ///< jobs of actors pinned to this worker
    std::atomic<std::size_t> own_size{0};
    std::condition_variable cv;
    bool sleeping = false;
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    enqueue(self, job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto* parent = self->parent();
    auto& c = d(parent);
    auto& me = d(self);
    using clock = std::chrono::steady_clock;
    auto until = clock::now() + std::chrono::microseconds(affinity_spin_setting());
    for (std::uint32_t i = 1;; ++i) {
      if (me.own_size.load(std::memory_order_acquire) > 0
          || c.shared_size.load(std::memory_order_acquire) > 0) {
        std::lock_guard<std::mutex> guard(c.lock);
        if (auto* job = take(parent, me))
          return job;
      }
      relax();
      if (i % 64 == 0) {
        if (clock::now() >= until)
          break;
        sched_yield();  // a thread waiting for this core (the driver) goes first
      }
    }
    std::unique_lock<std::mutex> guard(c.lock);
    for (;;) {
      if (auto* job = take(parent, me))
        return job;
      me.sleeping = true;
      me.cv.wait(guard);
      me.sleeping = false;
    }
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker* self, UnaryFunction f) {
    auto& me = d(self);
    std::lock_guard<std::mutex> guard(d(self->parent()).lock);
    for (auto* job : me.own)
      f(job);
    me.own.clear();
    me.own_size.store(0);
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& c = d(self);
    std::lock_guard<std::mutex> guard(c.lock);
    for (auto* job : c.shared)
      f(job);
    c.shared.clear();
    c.shared_size.store(0);
  }

 private:
  template <class Coordinator>
  void enqueue(Coordinator* self, caf::resumable* job) {
    auto& c = d(self);
    auto n = self->num_workers();
    auto w = c.pinned.find(job);
    std::condition_variable* wake = nullptr;
    {
      std::lock_guard<std::mutex> guard(c.lock);
      if (w >= 0 && std::size_t(w) < n) {
        auto& target = d(self->worker_by_id(std::size_t(w)));
        target.own.push_back(job);
        target.own_size.store(target.own.size(), std::memory_order_release);
        if (target.sleeping)
          wake = &target.cv;
      } else {
        c.shared.push_back(job);
        c.shared_size.store(c.shared.size(), std::memory_order_release);
        wake = sleeper(self, n);
      }
    }
    if (wake)
      wake->notify_one();
  }

  /// A sleeping worker's condition variable, or null; under the lock.
  template <class Coordinator>
  static std::condition_variable* sleeper(Coordinator* self, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k)
      if (auto& other = d(self->worker_by_id(k)); other.sleeping)
        return &other.cv;
    return nullptr;
  }

  /// The worker's next job, its own queue first; under the lock.
  template <class Coordinator>
  static caf::resumable* take(Coordinator* self, worker_data& me) {
    auto pop = [](job_queue& q, std::atomic<std::size_t>& size) {
      auto* job = q.front();
      q.pop_front();
      size.store(q.size(), std::memory_order_release);
      return job;
    };
    if (!me.own.empty())
      return pop(me.own, me.own_size);
    if (auto& c = d(self); !c.shared.empty())
      return pop(c.shared, c.shared_size);
    return nullptr;
  }
};

using affinity_coordinator = caf::scheduler::coordinator<affinity_policy>;

}  // namespace

std::size_t affinity_spin_setting() {
  static const auto us =
    static_cast<std::size_t>(env_count("RECFLOW_SPIN_US", affinity_spin_us, 0, 1'000'000));
  return us;
}

void poll_mailbox(caf::blocking_actor& self) {
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + std::chrono::microseconds(affinity_spin_setting());
  for (std::uint32_t i = 1; self.mailbox().empty(); ++i) {
    relax();
    if (i % 64 == 0) {
      if (clock::now() >= until)
        return;
      sched_yield();
    }
  }
}

void load_affinity_scheduler(caf::actor_system_config& cfg) {
  cfg.load<affinity_coordinator>();
}

bool prefer_worker(caf::actor_system& sys, const caf::actor& a, std::size_t worker) {
  auto* sched = dynamic_cast<affinity_coordinator*>(&sys.scheduler());
  if (sched == nullptr || !a || sched->num_workers() == 0)
    return false;
  auto* job = dynamic_cast<const caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(a));
  if (job == nullptr)
    return false;  // a blocking actor has a thread of its own
  auto w = worker == any_worker ? std::numeric_limits<std::uint32_t>::max()
                                : std::uint32_t(worker % sched->num_workers());
  sched->data().pinned.set(job, w);  // max(): the shared queue again
  return true;
}

}  // namespace recflow
