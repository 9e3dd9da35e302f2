/// The search of `recflow tune`: which candidates to try, at which budgets, and which
/// to drop early. Independent of what is tuned: an objective scores a candidate at a
/// budget (a fraction of the full training) on one validation fold, and says what that
/// costs in work units. tune_problem.hpp builds the objective for batch ALS and streaming.
///
/// Searches:
///  - grid: every grid point at the full budget (the baseline the others are measured by);
///  - random: `trials` seeded samples at the full budget;
///  - grid or random with `halving`: one successive-halving bracket over those candidates
///    from budget eta^-(brackets-1) (plain successive halving: cheap, but it trusts the
///    short budgets; the defaults are carried to the full budget whatever they score);
///  - hyperband: brackets of successive halving (Li et al., JMLR 2018). Bracket s
///    (s = brackets-1 .. 0) starts n_s candidates at budget eta^-s and keeps the best
///    1/eta at each step up to the full budget; bracket 0 runs its few candidates at the
///    full budget only. Short budgets favour fast-learning settings, so one bracket alone
///    can drop the right candidate: the brackets hedge, and the winner is chosen among
///    full-budget results only.
/// Every search also tries the shipped defaults at the full budget, so the winner's
/// validation score is never worse than theirs.
///
/// Determinism: a trial's score depends only on (candidate, budget, fold), promotions
/// sort by (score, candidate number), so the result does not depend on how many threads
/// run the trials or in which order they finish.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/tune/tune_space.hpp"

namespace recflow {

/// How candidates are chosen and pruned.
enum class search_kind { grid, random, hyperband };

/// "grid", "random", "hyperband".
const char* to_string(search_kind k) noexcept;

/// Options of the search, with defaults.
struct tune_options {
  search_kind search = search_kind::hyperband;
  /// random: samples (0: 20); hyperband: candidates over all brackets (0: Hyperband's own
  /// counts, 9 + 5 + 3 for eta 3 and 3 brackets).
  std::size_t trials = 0;
  int grid_points = 3;      ///< points per range on the grid (and for hyperband --sample grid)
  int eta = 3;              ///< hyperband: keep 1/eta per step, budgets grow by eta
  int brackets = 3;         ///< hyperband: number of brackets; the smallest budget is eta^-(brackets-1)
  bool sample_grid = false; ///< hyperband: draw candidates from the shuffled grid, not the ranges
  /// grid and random: prune by successive halving from the smallest budget (as hyperband's
  /// most aggressive bracket) instead of running every candidate at the full budget; the
  /// defaults are always carried through to the full budget.
  bool halving = false;
  std::uint64_t seed = 42;  ///< sampling
};

/// "eta must be at least 2, got 1" and friends.
result<void> validate(const tune_options& o);

/// The loss a search minimises, from the summed losses and the count of a candidate's
/// trials over its folds.
enum class loss_kind {
  rmse,  ///< sqrt(sum / count): the trials sum squared errors (explicit ratings)
  mean,  ///< sum / count: the trials sum per-item losses (1 - HR@k: 1 per missed item)
};

/// The loss of `sum` over `count` items; infinite for no items or a non-finite sum (a
/// diverged model ranks last).
double loss_of(loss_kind k, double sum, std::size_t count) noexcept;

/// Summed loss and count of one trial on one fold.
struct trial_score {
  double sum = 0.0;       ///< squared errors (loss_kind::rmse) or per-item losses (mean)
  std::size_t count = 0;  ///< items scored
};

/// What is tuned, abstractly.
struct tune_objective {
  std::size_t folds = 1;
  loss_kind loss = loss_kind::rmse;
  std::string loss_name = "rmse";  ///< for people: "rmse", "1 - HR@10"
  /// Trains `c` with `fraction` (0, 1] of the full budget on fold `fold` and scores it on
  /// that fold's validation part. Called from any thread, concurrently.
  std::function<result<trial_score>(const candidate& c, double fraction, std::size_t fold)>
    evaluate;
  /// Work units of that trial (e.g. ratings x ALS iterations), exactly.
  std::function<std::uint64_t(const candidate& c, double fraction, std::size_t fold)> work;
  std::string work_unit = "units";
};

/// Runs `n` tasks: calls `run(i)` once for every i < n, in any order, on any thread, and
/// `done(i)` on the calling thread as each finishes; returns when all have. `run` does not
/// throw. sequential_executor() runs them one by one; engine/tune_pool.hpp on actors.
using task_executor = std::function<void(std::size_t n, const std::function<void(std::size_t)>& run,
                                         const std::function<void(std::size_t)>& done)>;

/// Runs every task on the calling thread.
task_executor sequential_executor();

/// Called on the calling thread once before the first trial (done = 0) and after each
/// trial: trials finished and planned.
using tune_progress = std::function<void(std::size_t done, std::size_t total)>;

/// One candidate's outcome.
struct tuned_candidate {
  candidate settings;
  int bracket = -1;         ///< hyperband bracket (s), -1 for grid and random
  double fraction = 0.0;    ///< largest budget it reached
  double loss = 0.0;        ///< validation loss at that budget (over all folds): RMSE, 1 - HR@10, ...
  std::uint64_t work = 0;   ///< work spent on it, all budgets and folds
};

/// The outcome of a search.
struct tune_report {
  /// Every candidate, best first: full-budget results by loss, then the pruned ones by
  /// budget reached and loss.
  std::vector<tuned_candidate> ranked;
  std::size_t best = 0;            ///< index into `ranked` of the winner (0)
  std::size_t defaults = 0;        ///< index into `ranked` of the shipped defaults
  std::size_t trials = 0;          ///< (candidate, budget, fold) evaluations run
  std::uint64_t work = 0;          ///< work units spent
  std::uint64_t unpruned_work = 0; ///< the same candidates, each at the full budget
  std::size_t grid_candidates = 0; ///< size of the full grid over the space
  std::uint64_t grid_work = 0;     ///< work of the full grid at the full budget
  std::string work_unit;
  std::string loss_name;           ///< the objective's
};

/// The hyperband plan: per bracket, its candidate count and the budget it starts at.
struct hyperband_bracket {
  int s = 0;
  std::size_t candidates = 0;
  double start_fraction = 1.0;
};
std::vector<hyperband_bracket> hyperband_plan(const tune_options& o);

/// Runs the search over `space` (with `defaults` always among the candidates).
result<tune_report> run_search(const search_space& space, const candidate& defaults,
                               const tune_objective& objective, const tune_options& o,
                               const task_executor& executor = sequential_executor(),
                               const tune_progress& progress = {});

}  // namespace recflow
