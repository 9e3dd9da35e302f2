/// How every actor system recflow starts schedules its threads: one place for the worker
/// count, the scheduling policy, the idle workers' polling and the threads' priority, so the
/// local and cluster engines, a node, batch ALS and the tuning pool all run alike.
///
///   caf::actor_system_config cfg;
///   configure_scheduler(cfg, 2, thread_priority{});
///   caf::actor_system sys(cfg);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/blocking_actor.hpp>

#include "recflow/engine/thread_priority.hpp"

namespace recflow {

/// How many times an idle CAF worker polls its queue (and every tenth time another
/// worker's) before it starts sleeping between polls. CAF 0.17 polls 100 times, then
/// sleeps 50 us between polls: a dataflow graph whose batches cross between the workers
/// several times per pass can wait out such a sleep at a hop. 10,000 polls cover a few
/// hundred microseconds, about the gap between two small batches (measured in
/// docs/benchmarks.md); a worker idle for longer falls back to CAF's sleeps, so an idle
/// process does not spin.
inline constexpr std::size_t idle_polls = 10'000;

/// The count in the environment variable `name` when it holds one in [lo, hi] (the knobs
/// below that say "for measuring"); `fallback` otherwise.
std::uint64_t env_count(const char* name, std::uint64_t fallback, std::uint64_t lo = 0,
                        std::uint64_t hi = UINT64_MAX);

/// The polls to use: $RECFLOW_IDLE_POLLS when it holds a count (1..10^8; CAF's own default
/// is 100), for measuring; idle_polls otherwise.
std::size_t idle_polls_setting();

/// CAF's scheduling policy: "affinity" (the policy of affinity_policy.cpp, below) unless
/// $RECFLOW_SCHEDULER says "sharing" (CAF's work sharing: one queue that every worker
/// takes from) or "stealing" (CAF's default: a queue per worker, idle workers steal), for
/// measuring. The affinity policy keeps each owner's tables in one core's caches and lets
/// the local engine run a small batch on one core (docs/benchmarks.md).
const char* scheduler_policy_setting();

/// `workers` scheduler threads (scheduler.max-threads) under `policy` ("sharing" or
/// "stealing" for CAF's, anything else the affinity policy), idle workers of a stealing
/// scheduler polling idle_polls_setting() times before sleeping, at priority `p` (see
/// set_thread_priority).
void configure_scheduler(caf::actor_system_config& cfg, std::size_t workers,
                         thread_priority p = {},
                         std::string_view policy = scheduler_policy_setting());

/// How long an idle worker of the affinity policy polls before it sleeps (microseconds).
inline constexpr std::size_t affinity_spin_us = 50;

/// $RECFLOW_SPIN_US when it holds a count (0..10^6), for measuring; affinity_spin_us
/// otherwise.
std::size_t affinity_spin_setting();

/// The driver's side of the same trade: polls the mailbox of `self` (the thread that drives
/// a graph) for up to affinity_spin_setting() microseconds and returns once it holds a
/// message or the time is up; the caller's blocking receive then sleeps only if none came.
/// A driver that sleeps at once is woken through a condition variable for every answer it
/// waits for (tens of microseconds on a virtual machine), which a small batch pays several
/// times; it yields the core between polls, so a worker waiting for it runs first.
void poll_mailbox(caf::blocking_actor& self);

/// prefer_worker's "whichever worker is free" (as under work sharing).
inline constexpr std::size_t any_worker = static_cast<std::size_t>(-1);

/// Under the affinity policy, `a` (a scheduled actor) runs on worker `worker` modulo the
/// workers from now on (any_worker: on any); false (and nothing changes) under another
/// policy.
bool prefer_worker(caf::actor_system& sys, const caf::actor& a, std::size_t worker);

/// Every thread the actor system of `cfg` starts runs at `p` (nothing if `p` is not
/// lowered).
void set_thread_priority(caf::actor_system_config& cfg, thread_priority p);

}  // namespace recflow
