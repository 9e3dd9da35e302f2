/// Batch ALS on the actor graph (train_als_graph, 2 workers) against single-threaded
/// train_als in the same run: seconds per iteration at rank 10 and 50, on MovieLens 100K
/// and on a synthetic planted set of about 1M ratings; their ratio; and whether the two
/// models are identical.
///
///   ./bench_als_engine [data_dir] [--iterations N] [--workers W]
///                      (defaults: $RECFLOW_DATA, 3 sweeps, 2 workers; --workers 1 shows
///                      the graph's overhead without parallelism)
///
/// Reference figure: the fastest full sweep (users then items) of als_sweep plus the
/// training RMSE, as train_als runs with a progress callback, after the warm-up of the
/// first sweep. Graph figure: the fastest sweep the graph reports (its wall time from
/// the coordinator's start message to the last item block's report, which includes the
/// block's share of the training error). "setup" is the graph's time outside sweeps:
/// blocks, plan, actor system, spawning, collecting the model. "total" is the wall time
/// of a whole train_als(t, p) and train_als_graph(t, p, o) call with `iterations` sweeps.
///
/// "cpu/wall r/g" is CPU seconds over wall seconds per sweep for the reference and the
/// graph: about 1 and up to 2 on 2 idle cores. When both show the same figure, the
/// process got no more CPU with two threads than with one (the machine was busy), and
/// the speedup column says nothing about the graph.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "planted_set.hpp"
#include "test_util.hpp"  // tests/support: the data folder, planted data
#include "recflow/data/ingest.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"

using namespace recflow;

namespace {

using clock_type = std::chrono::steady_clock;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct timing {
  double best = 1e300;  // fastest sweep, wall seconds
  double cpu = 0.0;     // CPU seconds per sweep (all threads), averaged
  double wall = 0.0;    // wall seconds per sweep, averaged
};

timing reference(const rating_table& t, const als_params& p) {
  auto blocks = rating_blocks::build(t.ratings, t.users.size(), t.items.size());
  auto m = als_initial_model(t, blocks, p);
  als_solver solver(p);
  als_sweep(blocks, m, solver);  // warm-up, as bench_als
  timing out;
  double sink = 0.0;
  auto c0 = cpu_seconds();
  for (int s = 1; s < p.iterations; ++s) {
    auto t0 = clock_type::now();
    als_sweep(blocks, m, solver);
    sink += training_rmse(m, blocks.by_user);  // as train_als with a progress callback
    out.best = std::min(out.best, since(t0));
    out.wall += since(t0);
  }
  out.wall /= std::max(1, p.iterations - 1);
  if (!(sink >= 0.0))
    std::exit(1);
  out.cpu = (cpu_seconds() - c0) / std::max(1, p.iterations - 1);
  return out;
}

void run(const std::string& label, const rating_table& t, int iterations, std::size_t workers) {
  fmt::print("\n{}: {} ratings, {} users, {} items; {} sweeps each (the first is warm-up)\n",
             label, t.size(), t.users.size(), t.items.size(), iterations);
  fmt::print("{:>5} {:>6} {:>12} {:>12} {:>8} {:>10} {:>12} {:>9} {:>14} {:>12} {:>11} {:>10}\n",
             "rank", "parts", "train_als s", "graph s", "speedup", "cpu ratio", "cpu/wall r/g",
             "setup s", "total ref/graph", "rows/sweep", "msgs/sweep", "identical");
  for (int rank : {10, 50}) {
    als_params p;
    p.rank = rank;
    p.iterations = iterations;
    auto ref = reference(t, p);
    auto r0 = clock_type::now();
    auto ref_model = train_als(t, p);
    double ref_total = since(r0);
    for (std::size_t parts : {std::size_t{2}, std::size_t{4}}) {
      als_graph_options o;
      o.partitions = parts;
      o.workers = workers;
      timing g;
      double sweeps_total = 0.0, sweeps_cpu = 0.0, sweeps_wall = 0.0;
      als_sweep_metrics last;
      auto t0 = clock_type::now();
      double c_prev = cpu_seconds();
      auto model = train_als_graph(t, p, o, [&](const als_sweep_metrics& s) {
        auto c = cpu_seconds();
        sweeps_total += s.seconds;
        if (s.iteration > 1) {
          g.best = std::min(g.best, s.seconds);
          sweeps_wall += s.seconds;
          sweeps_cpu += c - c_prev;
        }
        c_prev = c;
        last = s;
      });
      double total = since(t0);
      if (!model) {
        fmt::print(stderr, "graph failed: {}\n", model.err().message);
        std::exit(1);
      }
      g.cpu = sweeps_cpu / std::max(1, iterations - 1);
      fmt::print(
        "{:>5} {:>6} {:>12.4f} {:>12.4f} {:>8.2f} {:>10.2f} {:>5.2f}/{:<6.2f} {:>9.3f} "
        "{:>6.2f}/{:<7.2f} {:>12} {:>11} {:>10}\n",
        rank, parts, ref.best, g.best, ref.best / g.best, g.cpu / ref.cpu, ref.cpu / ref.wall,
        g.cpu / (sweeps_wall / std::max(1, iterations - 1)), total - sweeps_total,
        ref_total, total, last.item_rows_shipped + last.user_rows_shipped, last.messages,
        *model == *ref_model ? "yes" : "NO");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = test::data_dir();
  int iterations = 3;
  std::size_t workers = 2;
  for (int a = 1; a < argc; ++a) {
    std::string s = argv[a];
    if (s == "--iterations" && a + 1 < argc)
      iterations = std::max(2, std::atoi(argv[++a]));
    else if (s == "--workers" && a + 1 < argc)
      workers = std::size_t(std::max(1, std::atoi(argv[++a])));
    else
      dir = s;
  }
  auto ml = read_ratings(dir + "/ml-100k/u.data");
  if (!ml) {
    fmt::print(stderr, "cannot read MovieLens 100K: {}\n", ml.err().message);
    return 1;
  }
  fmt::print("Batch ALS: the actor graph ({} workers) vs single-threaded train_als, seconds per\n"
             "sweep (fastest after warm-up); speedup = train_als / graph (at most 2 on 2 idle\n"
             "cores); cpu ratio = graph CPU seconds (all threads) / train_als CPU seconds\n",
             workers);
  run("MovieLens 100K u.data", *ml, iterations, workers);

  auto synthetic = bench::planted_set();  // about 1.05M ratings
  run("synthetic planted rank 10", synthetic.table, iterations, workers);
  return 0;
}
