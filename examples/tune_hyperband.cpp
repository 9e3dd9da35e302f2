// Hyperband tuning of streaming settings on the actor pool, as `recflow tune --mode stream`.
// Run: build/example_tune_hyperband data/ml-100k   (or ../shared/data/ml-100k)
#include <iostream>

#include <recflow/data/ingest.hpp>
#include <recflow/engine/tune_pool.hpp>
#include <recflow/tune/tune.hpp>
#include <recflow/tune/tune_problem.hpp>

int main(int argc, char** argv) {
  using namespace recflow;
  std::string dir = argc > 1 ? argv[1] : "data/ml-100k";
  auto train = read_ratings(dir + "/u1.base");
  if (!train) {
    std::cerr << train.err().message << '\n';
    return 1;
  }
  // What varies: the shipped stream space, with a narrower learning rate.
  tune_problem p;
  p.space = default_space(tune_mode::stream);
  set_param(p.space, parse_param("gamma=0.01..0.05:log", tune_mode::stream).value());
  // Tune on the last 30,000 ratings of the (seeded random) stream: stream the older 80%,
  // score on the newest 20%.
  auto fold = window_fold(*train, 30000, 0.2, stream_order::random, 42);
  if (!fold) {
    std::cerr << fold.err().message << '\n';
    return 1;
  }
  p.folds.push_back(std::move(*fold));

  auto report = run_search(p.space, default_candidate(p.space, p.stream), make_objective(p),
                           tune_options{.search = search_kind::hyperband},
                           actor_pool_executor(2));
  if (!report) {
    std::cerr << report.err().message << '\n';
    return 1;
  }
  for (std::size_t k = 0; k < 3 && k < report->ranked.size(); ++k)
    std::cout << k + 1 << ". " << describe(p.space, report->ranked[k].settings) << "  rmse "
              << report->ranked[k].loss << '\n';
  std::cout << "defaults: rmse " << report->ranked[report->defaults].loss << '\n'
            << "work: " << report->work << " of " << report->grid_work << ' '
            << report->work_unit << " for the full grid\n";
}
