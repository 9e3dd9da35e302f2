/// Seconds per ALS iteration at rank 10, 50 and 100, for each way of accumulating the
/// normal equations, on MovieLens 100K and on a synthetic set of about 1.5M ratings.
///
///   ./bench_als [data_dir]      (default: $RECFLOW_DATA, else ../shared/data)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "planted_set.hpp"
#include "test_util.hpp"  // tests/support: the data folder, planted data
#include "recflow/data/ingest.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_solver.hpp"

using namespace recflow;

namespace {

const char* name_of(normal_equations m) {
  switch (m) {
    case normal_equations::gathered: return "gathered";
    case normal_equations::rank_one: return "rank_one";
    case normal_equations::naive: return "naive";
  }
  return "?";
}

// Seconds of the fastest of `sweeps` full sweeps (users then items), after one warm-up
// sweep, on a model initialised as train_als does. The minimum is the figure least
// disturbed by other processes on a shared machine.
double seconds_per_iteration(const rating_table& t, const rating_blocks& blocks,
                             const als_params& p, int sweeps) {
  auto m = als_initial_model(t, blocks, p);
  als_solver solver(p);
  als_sweep(blocks, m, solver);  // warm-up: buffers sized, factors no longer tiny
  double best = 1e300;
  for (int s = 0; s < sweeps; ++s) {
    auto start = std::chrono::steady_clock::now();
    als_sweep(blocks, m, solver);
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    best = std::min(best, d.count());
  }
  return best;
}

void run(const std::string& label, const rating_table& t, int sweeps_small) {
  auto blocks = rating_blocks::build(t.ratings, t.users.size(), t.items.size());
  fmt::print("\n{}: {} ratings, {} users, {} items\n", label, t.size(), blocks.n_users(),
             blocks.n_items());
  fmt::print("{:>5} {:>12} {:>12} {:>12} {:>14} {:>14}\n", "rank", "gathered s", "rank_one s",
             "naive s", "naive/gathered", "naive/rank_one");
  for (int rank : {10, 50, 100}) {
    int sweeps = rank >= 100 ? 1 : sweeps_small;
    double secs[3];
    for (auto m : {normal_equations::gathered, normal_equations::rank_one,
                   normal_equations::naive}) {
      als_params p;
      p.rank = rank;
      p.method = m;
      secs[int(m)] = seconds_per_iteration(t, blocks, p, sweeps);
    }
    fmt::print("{:>5} {:>12.4f} {:>12.4f} {:>12.4f} {:>14.2f} {:>14.2f}\n", rank, secs[0],
               secs[1], secs[2], secs[2] / secs[0], secs[2] / secs[1]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : test::data_dir();
  auto ml = read_ratings(dir + "/ml-100k/u.data");
  if (!ml) {
    fmt::print(stderr, "cannot read MovieLens 100K: {}\n", ml.err().message);
    return 1;
  }
  fmt::print("ALS seconds per iteration (one user sweep + one item sweep; fastest of a few),\n"
             "single thread; "
             "'{}' is the default, 'naive' the textbook per-rating dense outer product\n",
             name_of(normal_equations::gathered));
  run("MovieLens 100K u.data", *ml, 3);

  auto synthetic = bench::planted_set();  // about 1.05M ratings
  run("synthetic planted rank 10", synthetic.table, 1);
  return 0;
}
