// thread_tasks (engine/thread_tasks.hpp): every task runs once, on the threads asked for,
// and a task's exception reaches the caller after every thread has stopped.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "recflow/engine/thread_tasks.hpp"

using namespace recflow;

TEST_CASE("thread_tasks runs every task once, on at most the threads asked for",
          "[engine][threads]") {
  auto threads = GENERATE(std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(5));
  auto n = GENERATE(std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(200));
  INFO(threads << " threads, " << n << " tasks");
  auto run = thread_tasks(threads);
  CHECK(bool(run) == (threads > 1));
  std::vector<std::atomic<int>> done(n);
  std::mutex m;
  std::set<std::thread::id> ids;
  run_tasks(run, n, [&](std::size_t t) {
    done[t]++;
    std::lock_guard lock(m);
    ids.insert(std::this_thread::get_id());
  });
  for (std::size_t t = 0; t < n; ++t)
    REQUIRE(done[t] == 1);
  CHECK(ids.size() <= std::max<std::size_t>(threads, 1));
  if (threads <= 1 && n > 0)
    CHECK(*ids.begin() == std::this_thread::get_id());
}

TEST_CASE("thread_tasks hands a task's exception to the caller", "[engine][threads]") {
  auto run = thread_tasks(3);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH(run(100,
                        [&](std::size_t t) {
                          ++ran;
                          if (t == 10)
                            throw std::runtime_error("task 10 failed");
                        }),
                    "task 10 failed");
  CHECK(ran >= 11);
  CHECK(ran <= 100);
}
