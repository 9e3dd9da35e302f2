// The actor systems' scheduling (engine/scheduler.hpp): under the affinity policy an actor
// given a worker runs on that worker's thread and nowhere else, until it is freed again;
// the other policies place nothing; and the local engine's model does not depend on the
// policy, nor on whether its batches ran packed on one worker or spread over all.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "engine_test_util.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/scheduler.hpp"
#include "recflow/graph/graph.hpp"

using namespace recflow;
using namespace recflow::test;

namespace {

/// Answers every integer with the id of the thread it runs on.
caf::behavior thread_teller(caf::event_based_actor*) {
  return {[](std::int32_t) -> std::uint64_t {
    return std::hash<std::thread::id>{}(std::this_thread::get_id());
  }};
}

/// The threads `a` answered `n` requests on.
std::set<std::uint64_t> threads_of(caf::scoped_actor& self, const caf::actor& a, int n) {
  std::set<std::uint64_t> seen;
  for (int k = 0; k < n; ++k)
    self->request(a, std::chrono::seconds(30), std::int32_t{k})
      .receive([&](std::uint64_t t) { seen.insert(t); },
               [&](caf::error& e) { FAIL(caf::to_string(e)); });
  return seen;
}

}  // namespace

TEST_CASE("scheduler: the affinity policy runs a pinned actor on its worker until it is freed",
          "[engine][scheduler]") {
  caf::actor_system_config cfg;
  configure_scheduler(cfg, 2, {}, "affinity");
  caf::actor_system sys(cfg);
  caf::scoped_actor self(sys);
  auto a = sys.spawn(thread_teller);
  auto b = sys.spawn(thread_teller);
  REQUIRE(prefer_worker(sys, a, 0));
  REQUIRE(prefer_worker(sys, b, 3));  // modulo the workers: worker 1
  // A pin places the actor's next scheduling. An actor still running (a spawn, or a
  // request that arrived before it went idle) keeps its thread until its mailbox is
  // empty: let both go idle first.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  threads_of(self, a, 3);
  threads_of(self, b, 3);
  auto on_a = threads_of(self, a, 200);
  auto on_b = threads_of(self, b, 200);
  REQUIRE(on_a.size() == 1);
  REQUIRE(on_b.size() == 1);
  CHECK(*on_a.begin() != *on_b.begin());
  // Moved: b now shares a's worker. b may still be finishing its last run on its old
  // worker, and requests that reach it before it goes idle run there too: it goes idle.
  REQUIRE(prefer_worker(sys, b, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  threads_of(self, b, 3);
  CHECK(threads_of(self, b, 50) == on_a);
  // Freed: b runs wherever a worker is free, and still answers.
  REQUIRE(prefer_worker(sys, b, any_worker));
  CHECK_FALSE(threads_of(self, b, 50).empty());
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE("scheduler: work sharing and work stealing place nothing", "[engine][scheduler]") {
  for (const char* policy : {"sharing", "stealing"}) {
    INFO(policy);
    caf::actor_system_config cfg;
    configure_scheduler(cfg, 2, {}, policy);
    caf::actor_system sys(cfg);
    auto a = sys.spawn(thread_teller);
    CHECK_FALSE(prefer_worker(sys, a, 0));
    caf::scoped_actor self(sys);
    CHECK(threads_of(self, a, 10).size() >= 1);
    self->send_exit(a, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE("scheduler: the driver's poll returns with a message waiting, and without one when "
          "its time is up, taking nothing", "[engine][scheduler]") {
  caf::actor_system_config cfg;
  configure_scheduler(cfg, 2);
  caf::actor_system sys(cfg);
  caf::scoped_actor self(sys);
  poll_mailbox(*self);  // nothing comes: returns after its spin
  CHECK(self->mailbox().empty());
  // An answer arriving while the driver polls ends the poll and is still there to receive.
  auto a = sys.spawn(thread_teller);
  self->send(a, std::int32_t{1});
  poll_mailbox(*self);
  bool answered = false;
  self->receive([&](std::uint64_t) { answered = true; },
                caf::after(std::chrono::seconds(30)) >> [] {});
  CHECK(answered);
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_CASE("scheduler: a measuring knob takes a count in its range from the environment, "
          "its default otherwise", "[engine][scheduler]") {
  const char* name = "RECFLOW_TEST_KNOB";
  {
    scoped_env unset(name, nullptr);
    CHECK(env_count(name, 50) == 50);
  }
  for (auto [text, want] : {std::pair<const char*, std::uint64_t>{"0", 0}, {"7", 7},
                            {"1000", 1000}, {"", 50}, {"-5", 50}, {"12x", 50}, {"1001", 50},
                            {"99999999999999999999999", 50}, {" 7", 50}}) {
    scoped_env env(name, text);
    INFO('"' << text << '"');
    CHECK(env_count(name, 50, 0, 1000) == want);
  }
}

TEST_CASE("scheduler: the policy comes from RECFLOW_SCHEDULER, affinity unless it names another",
          "[engine][scheduler]") {
  {
    scoped_env unset("RECFLOW_SCHEDULER", nullptr);
    CHECK(std::string(scheduler_policy_setting()) == "affinity");
  }
  for (const char* policy : {"sharing", "stealing", "affinity"}) {
    scoped_env env("RECFLOW_SCHEDULER", policy);
    CHECK(std::string(scheduler_policy_setting()) == policy);
  }
  scoped_env env("RECFLOW_SCHEDULER", "fastest");
  CHECK(std::string(scheduler_policy_setting()) == "affinity");
}

TEST_CASE("local engine: the same model under every policy, batches packed on one worker and "
          "spread over two",
          "[engine][scheduler][equivalence]") {
  // Batches of 300 ratings are packed (300 x 50 x 2 < pack_work), merged batches of 12,000
  // spread (12,000 x 50 x 2 >= pack_work), alternating, so the owners move between the
  // two placements while batches are in flight.
  stream_params p;
  p.rank = 50;
  p.passes = 2;
  p.seed = 42;
  static_assert(300u * 50u * 2u < pack_work && 12'000u * 50u * 2u >= pack_work);
  auto src = synthetic_source({.users = 2'000, .items = 500, .ratings = 90'000,
                               .batch_size = 300, .seed = 5});
  auto small = take_batches(*src, 1000);
  std::vector<rating_batch> batches;
  for (std::size_t k = 0; k < small.size();) {
    if (batches.size() % 2 == 0) {
      batches.push_back(small[k++]);
      continue;
    }
    rating_batch big;
    for (std::size_t j = 0; j < 40 && k < small.size(); ++j, ++k)
      big.ratings.insert(big.ratings.end(), small[k].ratings.begin(), small[k].ratings.end());
    batches.push_back(std::move(big));
  }
  REQUIRE(batches.size() >= 10);
  rating_scale scale{1.0, 5.0};
  reference_runner ref(p, scale);
  for (const auto& b : batches)
    ref.apply(b);
  for (const char* policy : {"affinity", "sharing", "stealing"}) {
    for (std::size_t partitions : {std::size_t{2}, std::size_t{3}}) {
      INFO(policy << ", " << partitions << " partitions, " << batches.size() << " batches");
      scoped_env env("RECFLOW_SCHEDULER", policy);
      require_equivalent(local_model_after(batches, p, partitions, scale), ref.model());
    }
  }
}
