// Streaming throughput of the actor graph vs the single-threaded streaming_trainer, on
// the same synthetic stream in the same run: ratings x passes per second, their ratio,
// and peak RSS.
//
//   ./bench_engine                       # 10M ratings, ranks 10 50 100, 2 workers
//   ./bench_engine --ratings 1000000 --ranks 50 --passes 2 --partitions 2 --batch 10000
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "rusage.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/model/streaming.hpp"

using namespace recflow;
using recflow::bench::peak_rss_mb;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::uint64_t ratings = 10'000'000;
  std::vector<int> ranks{10, 50, 100};
  int passes = 1;
  std::size_t batch = 10'000;
  std::size_t workers = 2;
  std::size_t partitions = 2;
  std::size_t in_flight = 2;
};

options parse(int argc, char** argv) {
  options o;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--ratings") o.ratings = std::stoull(v);
    else if (k == "--passes") o.passes = std::stoi(v);
    else if (k == "--batch") o.batch = std::stoull(v);
    else if (k == "--workers") o.workers = std::stoull(v);
    else if (k == "--partitions") o.partitions = std::stoull(v);
    else if (k == "--in-flight") o.in_flight = std::stoull(v);
    else if (k == "--ranks") {
      o.ranks.clear();
      for (std::size_t at = 0; at < v.size();) {
        auto comma = v.find(',', at);
        o.ranks.push_back(std::stoi(v.substr(at, comma - at)));
        at = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return o;
}

/// CPU seconds of every thread of the process (user + system).
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double seconds(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  synthetic_params sp{.users = 100'000, .items = 20'000, .ratings = o.ratings,
                      .batch_size = o.batch, .seed = 3};
  auto gen = synthetic_source(sp);
  std::vector<rating_batch> batches;
  for (;;) {
    auto b = gen->next();
    if (!b || !*b)
      break;
    batches.push_back(std::move(**b));
  }
  fmt::print("{} ratings in {} batches of {}, 100,000 users x 20,000 items, {} pass(es); "
             "graph: {} workers, {} partitions, {} batches in flight\n",
             o.ratings, batches.size(), o.batch, o.passes, o.workers, o.partitions, o.in_flight);
  // cpu ratio: the graph's CPU seconds (all threads) over the reference's, i.e. the
  // graph's extra work; on 2 idle cores the wall ratio can reach at most 2 / cpu ratio.
  fmt::print("{:>5} {:>16} {:>16} {:>7} {:>10} {:>12}\n", "rank", "reference r*p/s",
             "graph r*p/s", "ratio", "cpu ratio", "peak RSS MB");
  for (int rank : o.ranks) {
    stream_params p;
    p.rank = rank;
    p.passes = o.passes;
    // Reference: id translation is outside the timed region; only apply() is timed.
    streaming_trainer ref(p, sp.scale);
    id_map users, items;
    std::vector<rating> rs;
    double ref_seconds = 0.0, ref_cpu = 0.0;
    for (const auto& b : batches) {
      rs.clear();
      for (const auto& e : b.ratings)
        rs.push_back({users.insert(e.user), items.insert(e.item), e.value, e.timestamp});
      auto t0 = clock_type::now();
      auto c0 = cpu_seconds();
      if (!ref.apply(rs, users, items))
        return 1;
      ref_seconds += seconds(t0);
      ref_cpu += cpu_seconds() - c0;
    }
    // Graph: the whole run, from the first pull to the last batch's completion.
    std::size_t at = 0;
    auto src = source_from([&]() -> std::optional<rating_batch> {
      if (at == batches.size())
        return std::nullopt;
      return batches[at++];
    });
    auto engine = local_engine::make(make_streaming_graph(src, p, o.partitions, sp.scale),
                                     {.workers = o.workers, .max_in_flight = o.in_flight});
    if (!engine) {
      fmt::print(stderr, "{}\n", engine.err().message);
      return 1;
    }
    auto t0 = clock_type::now();
    auto c0 = cpu_seconds();
    auto sum = (*engine)->run();
    double graph_seconds = seconds(t0);
    double graph_cpu = cpu_seconds() - c0;
    if (!sum) {
      fmt::print(stderr, "{}\n", sum.err().message);
      return 1;
    }
    double work = double(o.ratings) * o.passes;
    double ref_rate = work / ref_seconds, graph_rate = work / graph_seconds;
    fmt::print("{:>5} {:>16.3e} {:>16.3e} {:>7.2f} {:>10.2f} {:>12.0f}\n", rank, ref_rate,
               graph_rate, graph_rate / ref_rate, graph_cpu / ref_cpu, peak_rss_mb());
    std::fflush(stdout);
  }
}
