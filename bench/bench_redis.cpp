// Ratings/s through the Redis Streams source into training on the actor graph, and the
// end-to-end latency from publish to applied (p50/p99), against the in-memory/file
// source on the same stream in the same run. Starts its own redis-server on a free port
// of 127.0.0.1 (or uses --redis HOST:PORT) and stops it at the end.
//
//   ./bench_redis                                  # 200k synthetic ratings, batches 1000 and 10000
//   ./bench_redis --ratings 500000 --rate 50000 --interval-ms 200 --redis 127.0.0.1:6379
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "recflow/engine/stream_job.hpp"
#include "recflow/sources/redis_source.hpp"

using namespace recflow;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::uint64_t ratings = 200'000;
  std::vector<std::size_t> batches{1000, 10'000};
  double rate = 50'000;   ///< publish rate of the latency runs, ratings/s
  int interval_ms = 200;  ///< batch interval of the latency runs
  std::string redis;      ///< empty: start a server
};

options parse(int argc, char** argv) {
  options o;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--ratings") o.ratings = std::stoull(v);
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--interval-ms") o.interval_ms = std::stoi(v);
    else if (k == "--redis") o.redis = v;
    else if (k == "--batches") {
      o.batches.clear();
      for (std::size_t at = 0; at < v.size();) {
        auto comma = v.find(',', at);
        o.batches.push_back(std::stoull(v.substr(at, comma - at)));
        at = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return o;
}

/// A redis-server of our own on a free port, killed by the destructor.
struct own_server {
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path dir;
  own_server() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      fmt::print(stderr, "no free port\n");
      std::exit(1);
    }
    port = ntohs(a.sin_port);
    ::close(fd);
    dir = std::filesystem::temp_directory_path() / ("bench-redis-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    pid = ::fork();
    if (pid == 0) {
      auto p = std::to_string(port);
      auto d = dir.string();
      std::FILE* f = std::freopen("/dev/null", "w", stdout);
      (void)f;
      ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1",
               "--dir", d.c_str(), "--save", "", "--appendonly", "no", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int t = 0; t < 500; ++t) {
      if (auto c = redis_client::connect({"127.0.0.1", port}, std::chrono::milliseconds(100)))
        if (c->command({"PING"}))
          return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    fmt::print(stderr, "redis-server did not start (is it installed?)\n");
    std::exit(1);
  }
  ~own_server() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::vector<rating_event> make_stream(std::uint64_t n) {
  synthetic_params p;
  p.users = 20'000;
  p.items = 4'000;
  p.ratings = n;
  p.batch_size = 10'000;
  auto src = synthetic_source(p);
  std::vector<rating_event> out;
  while (auto b = src->next()) {
    if (!*b)
      break;
    out.insert(out.end(), (*b)->ratings.begin(), (*b)->ratings.end());
  }
  return out;
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Trains on `src` and returns ratings/s (wall, source to last batch applied).
double train_rate(std::shared_ptr<rating_source> src, std::uint64_t expect,
                  const stream_callback& on_batch = {}) {
  stream_params params;
  auto t0 = clock_type::now();
  auto run = run_stream_job({.training = params, .input = source_input{std::move(src), {0.5, 5.0}}},
                            on_batch);
  auto s = seconds_since(t0);
  if (!run) {
    fmt::print(stderr, "run failed: {}\n", run.err().message);
    std::exit(1);
  }
  if (run->mark.ratings != expect) {
    fmt::print(stderr, "applied {} ratings, expected {}\n", run->mark.ratings, expect);
    std::exit(1);
  }
  return double(expect) / s;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty())
    return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(q * double(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  std::unique_ptr<own_server> server;
  host_port at{"127.0.0.1", 0};
  if (o.redis.empty()) {
    server = std::make_unique<own_server>();
    at.port = server->port;
  } else {
    auto hp = parse_host_port(o.redis);
    if (!hp) {
      fmt::print(stderr, "{}\n", hp.err().message);
      return 2;
    }
    at = *hp;
  }
  auto events = make_stream(o.ratings);
  fmt::print("bench_redis: {} synthetic ratings (20k users, 4k items), rank 10, 6 passes, "
             "2 partitions, 2 workers; redis-server on {}:{}\n",
             events.size(), at.host, at.port);
  fmt::print("{:>7}  {:>14}  {:>14}  {:>6}  {:>14}  {:>10}  {:>10}\n", "batch", "memory r/s",
             "redis r/s", "ratio", "publish r/s", "p50 ms", "p99 ms");
  int run_no = 0;
  for (auto batch : o.batches) {
    // Baseline: the same stream from memory (what the file source replays).
    auto mem = train_rate(memory_source(events, {.max_ratings = batch}), events.size());

    // Throughput: everything published first, then read through the consumer group.
    std::string name = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(run_no++);
    auto pub = publish_ratings({.at = {at, name}}, events);
    if (!pub) {
      fmt::print(stderr, "{}\n", pub.err().message);
      return 1;
    }
    auto red = train_rate(redis_source({.at = {at, name}, .max_ratings = batch}), events.size());

    // Latency: publish at a steady rate while training; batches end by count or interval.
    std::string live = name + "-live";
    std::vector<double> sent_at(events.size(), 0.0);
    std::vector<double> latency;
    latency.reserve(events.size());
    std::mutex m;
    auto t0 = clock_type::now();
    std::uint64_t sent_before = 0;
    std::thread publisher([&] {
      auto r = publish_ratings({.at = {at, live}, .rate = o.rate}, events, [&](std::uint64_t n) {
        std::lock_guard lock(m);
        auto now = seconds_since(t0);
        for (auto j = sent_before; j < n; ++j)
          sent_at[j] = now;
        sent_before = n;
      });
      if (!r)
        fmt::print(stderr, "publish: {}\n", r.err().message);
    });
    std::uint64_t applied_before = 0;
    train_rate(redis_source({.at = {at, live}, .max_ratings = batch,
                             .interval = std::chrono::milliseconds(o.interval_ms)}),
               events.size(), [&](const stream_report& r) {
                 std::lock_guard lock(m);
                 auto now = seconds_since(t0);
                 for (auto j = applied_before; j < r.ratings_seen; ++j)
                   latency.push_back((now - sent_at[j]) * 1e3);
                 applied_before = r.ratings_seen;
               });
    publisher.join();
    fmt::print("{:>7}  {:>14.0f}  {:>14.0f}  {:>6.2f}  {:>14.0f}  {:>10.1f}  {:>10.1f}\n", batch,
               mem, red, red / mem, pub->published / pub->seconds, percentile(latency, 0.5),
               percentile(latency, 0.99));
    if (auto c = redis_client::connect(at))
      (void)c->command({"DEL", name, live});
  }
  fmt::print("latency: publish at {:.0f} ratings/s while training, batches end at the size or "
             "{} ms after their first entry; measured per rating, from the server's XADD reply "
             "to the batch applied by every owner\n",
             o.rate, o.interval_ms);
  return 0;
}
