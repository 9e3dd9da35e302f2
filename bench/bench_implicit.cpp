// Implicit ALS (`recflow batch --implicit`'s trainer): seconds per iteration with the
// Cholesky and the conjugate-gradient solver on the reference loop (one thread) and on
// the actor ALS blocks (2 workers, 2 blocks per side: what the command runs by default,
// the same model), against explicit ALS (train_als) on the same events at the same rank
// in the same run, and what each reaches: HR@10 and NDCG@10 against 100 sampled negatives
// (leave-latest-out), beside item popularity. Then
// streaming implicit ALS (`recflow stream --implicit`): events/s through the actor graph
// against the reference loop, alternating in the same run.
//
//   ./bench_implicit                    # MovieLens 100K (every rating an event) and a
//                                       # synthetic set of about 0.6M events; ranks 10, 50
//   ./bench_implicit --iterations 5 --cg-steps 3 --data DIR
//
// Figures: the training time of run_implicit_job (all sweeps, the objective of each
// included, as `recflow batch --implicit` trains) divided by the iterations; explicit
// ALS: the fastest of the same number of sweeps of als_sweep on the same events (their
// weights as ratings). The ratio is implicit / explicit: the implicit system of each
// entity costs the same k x k solve plus the confidence-weighted corrections, and each
// half sweep first computes the other side's Gram matrix.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "median.hpp"
#include "planted_set.hpp"
#include "test_util.hpp"  // tests/support: the data folder
#include "recflow/data/events.hpp"
#include "recflow/job/implicit_job.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"

using namespace recflow;

namespace {

struct options {
  int iterations = 5;
  int cg_steps = 3;
  std::string data = test::data_dir();
  int stream_rounds = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int a = 1; a < argc; ++a) {
    std::string k = argv[a];
    if (k == "--help" || k == "-h" || a + 1 >= argc) {
      fmt::print("usage: bench_implicit [--iterations N] [--cg-steps N] [--stream-rounds N] [--data DIR]\n");
      std::exit(k == "--help" || k == "-h" ? 0 : 2);
    }
    std::string v = argv[++a];
    if (k == "--iterations") o.iterations = std::max(1, std::stoi(v));
    else if (k == "--cg-steps") o.cg_steps = std::max(1, std::stoi(v));
    else if (k == "--data") o.data = v;
    else if (k == "--stream-rounds") o.stream_rounds = std::max(1, std::stoi(v));
    else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return o;
}

/// Explicit ALS seconds per sweep on `events` (weights as ratings), fastest of `sweeps`.
double explicit_seconds(const rating_table& events, int rank, int sweeps) {
  auto blocks = rating_blocks::build(events.ratings, events.users.size(), events.items.size());
  als_params p;
  p.rank = rank;
  auto m = als_initial_model(events, blocks, p);
  als_solver solver(p);
  double best = 1e300;
  for (int s = 0; s < sweeps; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    als_sweep(blocks, m, solver);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void run(const std::string& label, const rating_table& events, const options& o) {
  fmt::print("\n{}: {} events, {} users, {} items; {} iterations\n", label, events.size(),
             events.users.size(), events.items.size(), o.iterations);
  fmt::print("{:>5} {:>9} {:>12} {:>10} {:>8} {:>12} {:>9} {:>8} {:>8} {:>10}\n", "rank",
             "solver", "reference s", "blocks s", "speedup", "explicit s", "ref/expl", "HR@10",
             "NDCG@10", "popularity");
  for (int rank : {10, 50}) {
    const double base = explicit_seconds(events, rank, std::max(2, o.iterations));
    for (auto solver : {implicit_solver::cholesky, implicit_solver::cg}) {
      implicit_job_options jo;
      jo.als.rank = rank;
      jo.als.iterations = o.iterations;
      jo.als.solver = solver;
      jo.als.cg_steps = o.cg_steps;
      double per[2] = {0.0, 0.0};
      sampled_ranking_metrics model, popularity;
      for (int blocks = 0; blocks < 2; ++blocks) {
        jo.where.reference = blocks == 0;
        auto r = run_implicit_job(events, jo);
        if (!r) {
          fmt::print(stderr, "{}: {}\n", label, r.err().message);
          std::exit(1);
        }
        per[blocks] = r->train_seconds / o.iterations;
        model = r->ranking;  // the same model either way
        popularity = r->popularity;
      }
      fmt::print("{:>5} {:>9} {:>12.4f} {:>10.4f} {:>7.2f}x {:>12.4f} {:>8.2f}x {:>8.3f} {:>8.3f} "
                 "{:>10.3f}\n", rank, to_string(solver), per[0], per[1], per[0] / per[1], base,
                 per[0] / base, model.hit_rate, model.ndcg, popularity.hit_rate);
    }
  }
}

/// Streaming implicit ALS (`recflow stream --implicit`'s job: time order, batches of
/// `batch`, scored after every batch as the command does by default) on the reference loop
/// and on the actor graph (2 workers, 2 partitions), alternating, `rounds` times each:
/// events/s in updates (the scoring excluded) and the whole job's wall time, medians.
void stream(const std::string& label, const rating_table& events, const options& o,
            std::size_t batch) {
  fmt::print("\n{}: streaming implicit ALS, batches of {}, {} rounds (reference, graph "
             "alternating)\n", label, batch, o.stream_rounds);
  fmt::print("{:>5} {:>12} {:>12} {:>8} {:>11} {:>11} {:>8} {:>8}\n", "rank", "ref ev/s",
             "graph ev/s", "ratio", "ref wall s", "graph wall", "ratio", "HR@10");
  for (int rank : {32, 50}) {
    std::vector<double> rate[2], wall[2];
    double hr = 0.0;
    for (int round = 0; round < o.stream_rounds; ++round)
      for (int graph = 0; graph < 2; ++graph) {
        implicit_stream_job_options jo;
        jo.params.als.rank = rank;
        jo.batch_size = batch;
        jo.reference = graph == 0;
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run_implicit_stream_job(events, jo);
        if (!r) {
          fmt::print(stderr, "{}: {}\n", label, r.err().message);
          std::exit(1);
        }
        wall[graph].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        rate[graph].push_back(double(r->train_events) / r->stream_seconds);
        hr = r->ranking.hit_rate;
      }
    using bench::median;
    const double rr = median(rate[0]), rg = median(rate[1]);
    const double wr = median(wall[0]), wg = median(wall[1]);
    fmt::print("{:>5} {:>12.0f} {:>12.0f} {:>7.2f}x {:>11.2f} {:>11.2f} {:>7.2f}x {:>8.4f}\n", rank,
               rr, rg, rg / rr, wr, wg, wr / wg, hr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  fmt::print("Implicit ALS seconds per iteration, Cholesky and CG ({} steps): the reference "
             "(one thread) and the actor ALS blocks (2 workers, 2 per side), against explicit "
             "ALS per sweep (one thread) on the same events and rank (same run)\n",
             o.cg_steps);
  auto ml = read_events(o.data + "/ml-100k/u.data", {.ingest = {}, .threshold = 1.0});
  if (!ml) {
    fmt::print(stderr, "cannot read MovieLens 100K: {}\n", ml.err().message);
    return 1;
  }
  run("MovieLens 100K u.data, every rating an event of weight 1", *ml, o);
  stream("MovieLens 100K", *ml, o, 1000);

  // A planted set: the ratings a user would give 3.5 or more become events of weight 1.
  auto planted = bench::planted_set();
  std::vector<rating> events;
  for (auto r : planted.table.ratings)
    if (r.value >= 3.5f) {
      r.value = 1.0f;
      events.push_back(r);
    }
  const auto planted_events = planted.table.with_ratings(std::move(events));
  run("synthetic planted (30,000 users x 5,000 items, ratings >= 3.5 as events)", planted_events, o);
  stream("synthetic planted", planted_events, o, 10'000);
  return 0;
}
