// Training threads' priority (engine/thread_priority.hpp): "idle" or a nice value, parsed
// strictly; lowering a thread reaches the threads it starts, and an engine started with a
// priority runs every actor thread at it, the local engine's and a cluster driver's
// (Linux: read back from /proc/self/task).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "engine_test_util.hpp"
#include "node_process.hpp"
#include "recflow/graph/graph.hpp"

using namespace recflow;

TEST_CASE("thread priority: idle or a nice value 0..19, nothing else", "[engine][priority]") {
  auto idle = thread_priority::parse("idle");
  REQUIRE(idle);
  CHECK(idle->idle);
  CHECK(idle->lowered());
  CHECK(idle->text() == "idle");
  for (int n : {0, 1, 10, 19}) {
    auto p = thread_priority::parse(std::to_string(n));
    REQUIRE(p);
    CHECK_FALSE(p->idle);
    CHECK(p->nice == n);
    CHECK(p->lowered() == (n > 0));
    CHECK(p->text() == std::to_string(n));
  }
  for (const char* bad : {"", "20", "-1", "1.5", "5x", "IDLE", "idle ", " 3", "99999999999"}) {
    INFO("'" << bad << "'");
    auto p = thread_priority::parse(bad);
    REQUIRE_FALSE(p);
    CHECK(p.err().message.find("'idle' or a nice value in 0..19") != std::string::npos);
  }
  CHECK_FALSE(validate(thread_priority{.nice = 20}));
  CHECK(validate(thread_priority{.nice = 20, .idle = true}));  // the nice value plays no part
  CHECK_FALSE(validate(engine_options{.priority = {.nice = -1}}));
}

#if defined(__linux__)
namespace {

struct task_sched {
  std::string tid;
  std::string name;
  int nice = 0;
  int policy = 0;
};

/// Nice value (field 19) and policy (field 41) of every thread of this process.
std::vector<task_sched> threads_of_this_process() {
  std::vector<task_sched> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line))
      continue;  // the thread has ended
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open)
      continue;
    std::istringstream rest(line.substr(close + 2));  // fields from 3 on
    std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
    if (f.size() > 38)
      out.push_back({e.path().filename().string(), line.substr(open + 1, close - open - 1),
                     std::stoi(f[19 - 3]), std::stoi(f[41 - 3])});
  }
  return out;
}

}  // namespace

TEST_CASE("thread priority: a lowered thread and the threads it starts run at it", "[engine][priority]") {
  int nice_seen = -1, child_nice = -1, policy_seen = -1, child_policy = -1;
  std::thread([&] {
    lower_thread_priority({.nice = 7});
    nice_seen = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    std::thread([&] { child_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))); }).join();
  }).join();
  std::thread([&] {
    lower_thread_priority({.idle = true});
    policy_seen = sched_getscheduler(0);
    std::thread([&] { child_policy = sched_getscheduler(0); }).join();
  }).join();
  CHECK(nice_seen == 7);
  CHECK(child_nice == 7);
  CHECK(policy_seen == SCHED_IDLE);
  CHECK(child_policy == SCHED_IDLE);
  // This thread was left alone.
  CHECK(sched_getscheduler(0) == SCHED_OTHER);
}

/// Runs a small graph on `make_engine(graph, options)` at `priority`, then checks that
/// every thread the engine started in this process runs at it, and this one does not.
template <class MakeEngine>
void check_engine_threads(thread_priority priority, MakeEngine make_engine) {
  INFO("priority " << priority.text());
  // The test may itself run under nice: this thread must keep the value it started with.
  const int own_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  // Threads that were there before (a test run in one process may have left some, lowered
  // or not) are not counted.
  std::set<std::string> before;
  for (const auto& t : threads_of_this_process())
    before.insert(t.tid);
  auto g = make_streaming_graph(
    synthetic_source({.users = 40, .items = 30, .ratings = 2000, .batch_size = 200}), stream_params{}, 2);
  auto engine = make_engine(g, engine_options{.workers = 2, .priority = priority});
  INFO((engine ? std::string() : engine.err().message));
  REQUIRE(engine);
  auto sum = (*engine)->run();
  REQUIRE(sum);
  CHECK(sum->batches == 10);
  // Read after the run, and again for a moment if need be: each thread lowers itself once
  // it runs, so a look could catch a thread that has been created and not yet started.
  std::size_t lowered = 0, started = 0;
  std::string seen;
  for (int attempt = 0; attempt < 50; ++attempt) {
    lowered = started = 0;
    seen.clear();
    for (const auto& t : threads_of_this_process()) {
      if (before.count(t.tid))
        continue;
      ++started;
      if (priority.idle ? t.policy == SCHED_IDLE : t.nice == priority.nice)
        ++lowered;
      seen += " " + t.name + "(nice " + std::to_string(t.nice) + ", policy " + std::to_string(t.policy) + ")";
    }
    if (lowered == started)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  INFO("threads the engine started:" << seen);
  CHECK(lowered >= 2);  // the two scheduler workers at least
  CHECK(lowered == started);  // and nothing else the engine started was left out
  CHECK(sched_getscheduler(0) == SCHED_OTHER);  // the calling thread is not lowered
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))) == own_nice);
}

TEST_CASE("thread priority: an engine runs its actor threads at its priority and still trains",
          "[engine][priority]") {
  auto priority = GENERATE(thread_priority{.nice = 7}, thread_priority{.idle = true});
  check_engine_threads(priority, [](streaming_graph g, const engine_options& o) {
    return local_engine::make(std::move(g), o);
  });
}

TEST_CASE("thread priority: a cluster engine runs the driver's actor threads at its priority",
          "[engine][priority][multinode]") {
  auto priority = GENERATE(thread_priority{.nice = 7}, thread_priority{.idle = true});
  auto nodes = test::start_nodes(2);  // other processes: their threads are not counted
  check_engine_threads(priority, [&](streaming_graph g, const engine_options& o) {
    return cluster_engine::make(std::move(g),
                                {.nodes = test::endpoints<node_endpoint>(nodes), .secret = test::node_secret(), .engine = o});
  });
}
#endif
