#include "recflow/tune/tune.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <optional>
#include <random>

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

/// A candidate in the search and what it has reached so far.
struct arm {
  candidate c;
  int bracket = -1;
  double fraction = 0.0;
  double loss = std::numeric_limits<double>::infinity();
  std::uint64_t work = 0;
};

/// One hyperband bracket (or the single full-budget "bracket" of grid and random) while
/// it runs: the arms still in it and the budget exponent of its next rung.
struct bracket_run {
  int s = 0;
  int rung = 0;
  std::vector<std::size_t> alive;
};

double fraction_of(int eta, int s, int rung) { return std::pow(double(eta), rung - s); }

std::size_t survivors(std::size_t alive, int eta) {
  return alive == 0 ? 0 : std::max<std::size_t>(1, alive / static_cast<std::size_t>(eta));
}

bool same_point(const candidate& a, const candidate& b) { return a.values == b.values; }

/// The grid, seeded-shuffled (Fisher-Yates with our own bounded draws, portable).
std::vector<candidate> shuffled_grid(const search_space& space, int points, std::uint64_t seed) {
  auto grid = grid_candidates(space, points);
  std::mt19937_64 gen(seed);
  for (std::size_t k = grid.size(); k > 1; --k)
    std::swap(grid[k - 1], grid[static_cast<std::size_t>(gen() % k)]);
  return grid;
}

}  // namespace

double loss_of(loss_kind k, double sum, std::size_t count) noexcept {
  if (count == 0 || !std::isfinite(sum))
    return std::numeric_limits<double>::infinity();
  double mean = sum / double(count);
  return k == loss_kind::rmse ? std::sqrt(mean) : mean;
}

const char* to_string(search_kind k) noexcept {
  switch (k) {
    case search_kind::grid: return "grid";
    case search_kind::random: return "random";
    case search_kind::hyperband: return "hyperband";
  }
  return "?";
}

result<void> validate(const tune_options& o) {
  if (o.eta < 2)
    return invalid("eta must be at least 2, got " + std::to_string(o.eta));
  if (o.brackets < 1 || o.brackets > 8)
    return invalid("brackets must lie in 1..8, got " + std::to_string(o.brackets));
  if (o.grid_points < 2 || o.grid_points > 100)
    return invalid("grid points must lie in 2..100, got " + std::to_string(o.grid_points));
  if (o.trials > 100000)
    return invalid("trials must be at most 100000, got " + std::to_string(o.trials));
  if (o.search == search_kind::hyperband && o.trials == 0) {
    double total = 0;  // Hyperband's own counts grow as eta^(brackets-1): keep them sane
    for (int s = 0; s < o.brackets; ++s)
      total += std::ceil(double(o.brackets) / (s + 1) * std::pow(double(o.eta), s));
    if (total > 100000)
      return invalid("hyperband with eta " + std::to_string(o.eta) + " and "
                     + std::to_string(o.brackets) + " brackets would start "
                     + std::to_string(static_cast<long long>(std::min(total, 1e18)))
                     + " candidates; at most 100000 (lower --eta or --brackets, or set --trials)");
  }
  return {};
}

task_executor sequential_executor() {
  return [](std::size_t n, const std::function<void(std::size_t)>& run,
            const std::function<void(std::size_t)>& done) {
    for (std::size_t i = 0; i < n; ++i) {
      run(i);
      done(i);
    }
  };
}

std::vector<hyperband_bracket> hyperband_plan(const tune_options& o) {
  const int b = o.brackets;
  std::vector<double> counts;
  double total = 0;
  for (int s = b - 1; s >= 0; --s) {
    counts.push_back(std::ceil(double(b) / (s + 1) * std::pow(double(o.eta), s)));
    total += counts.back();
  }
  std::vector<hyperband_bracket> plan;
  for (int k = 0; k < b; ++k) {
    int s = b - 1 - k;
    // Scaled in floating point first: validate() bounds the result, not the raw counts.
    double n = o.trials > 0 ? std::max(1.0, std::round(counts[k] * double(o.trials) / total))
                            : std::min(counts[k], 1e9);
    plan.push_back({s, static_cast<std::size_t>(n), fraction_of(o.eta, s, 0)});
  }
  return plan;
}

result<tune_report> run_search(const search_space& space, const candidate& defaults,
                               const tune_objective& objective, const tune_options& o,
                               const task_executor& executor, const tune_progress& progress) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (!objective.evaluate || !objective.work || objective.folds == 0)
    return invalid("the tuning objective needs an evaluation, a work count and a fold");
  if (space.params.empty())
    return invalid("the search space is empty: give at least one --param");

  const std::size_t max_grid = 1'000'000;
  if ((o.search == search_kind::grid || (o.search == search_kind::hyperband && o.sample_grid))
      && grid_size(space, o.grid_points) > max_grid)
    return invalid("the grid has " + std::to_string(grid_size(space, o.grid_points))
                   + " points; at most 1000000 (fewer --grid-points or shorter lists)");

  candidate dflt = defaults;
  dflt.is_default = true;

  // Candidates, in brackets.
  std::vector<arm> arms;
  std::vector<bracket_run> brackets;
  if (o.search == search_kind::hyperband) {
    auto plan = hyperband_plan(o);
    std::size_t total = 0;
    for (const auto& b : plan)
      total += b.candidates;
    auto pool = o.sample_grid ? shuffled_grid(space, o.grid_points, o.seed)
                              : random_candidates(space, total, o.seed);
    std::size_t next = 0;
    for (const auto& b : plan) {
      bracket_run run{b.s, 0, {}};
      for (std::size_t k = 0; k < b.candidates && next < pool.size(); ++k, ++next) {
        run.alive.push_back(arms.size());
        arms.push_back({pool[next], b.s});
      }
      if (b.s == 0) {  // the defaults run at the full budget
        run.alive.push_back(arms.size());
        arms.push_back({dflt, 0});
      }
      if (!run.alive.empty())
        brackets.push_back(std::move(run));
    }
  } else {
    auto pool = o.search == search_kind::grid
                  ? grid_candidates(space, o.grid_points)
                  : random_candidates(space, o.trials == 0 ? 20 : o.trials, o.seed);
    bool found = false;
    for (auto& c : pool)
      if (same_point(c, dflt))
        c.is_default = found = true;
    if (!found)
      pool.insert(pool.begin(), dflt);
    bracket_run run;
    run.s = o.halving ? o.brackets - 1 : 0;
    for (auto& c : pool) {
      run.alive.push_back(arms.size());
      arms.push_back({std::move(c), -1});
    }
    brackets.push_back(std::move(run));
  }

  // The defaults go through every rung of their bracket: the others compete for the
  // survivors' places, and the defaults keep theirs.
  auto has_defaults = [&](const bracket_run& b) {
    return std::any_of(b.alive.begin(), b.alive.end(), [&](std::size_t a) { return arms[a].c.is_default; });
  };
  auto next_size = [&](std::size_t n, bool with_defaults) {
    return with_defaults ? survivors(n - 1, o.eta) + 1 : survivors(n, o.eta);
  };
  // Trials planned, for progress.
  std::size_t planned = 0;
  for (const auto& b : brackets) {
    bool d = has_defaults(b);
    for (std::size_t n = b.alive.size(), r = 0; r <= std::size_t(b.s); ++r, n = next_size(n, d))
      planned += n * objective.folds;
  }

  tune_report report;
  report.work_unit = objective.work_unit;
  report.loss_name = objective.loss_name;
  std::size_t finished = 0;
  if (progress)
    progress(0, planned);
  struct task {
    std::size_t arm;
    double fraction;
    std::size_t fold;
  };
  while (!brackets.empty()) {
    // One rung of every bracket still running, as one set of independent tasks.
    std::vector<task> tasks;
    for (const auto& b : brackets)
      for (auto a : b.alive)
        for (std::size_t f = 0; f < objective.folds; ++f)
          tasks.push_back({a, fraction_of(o.eta, b.s, b.rung), f});
    std::vector<std::optional<result<trial_score>>> out(tasks.size());
    executor(
      tasks.size(),
      [&](std::size_t i) {
        try {
          out[i] = objective.evaluate(arms[tasks[i].arm].c, tasks[i].fraction, tasks[i].fold);
        } catch (const std::exception& e) {
          out[i] = result<trial_score>(error{errc::io, std::string("trial failed: ") + e.what()});
        }
      },
      [&](std::size_t) {
        ++finished;
        if (progress)
          progress(finished, planned);
      });
    // Scores per arm, over its folds, in task order (deterministic).
    std::vector<double> sum(arms.size(), 0.0);
    std::vector<std::size_t> count(arms.size(), 0);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const auto& t = tasks[i];
      if (!out[i] || !*out[i])
        return error{out[i] ? (*out[i]).err().code : errc::io,
                     describe(space, arms[t.arm].c) + ": "
                       + (out[i] ? (*out[i]).err().message : std::string("trial did not run"))};
      sum[t.arm] += (*out[i])->sum;
      count[t.arm] += (*out[i])->count;
      auto w = objective.work(arms[t.arm].c, t.fraction, t.fold);
      arms[t.arm].work += w;
      report.work += w;
      arms[t.arm].fraction = t.fraction;
      ++report.trials;
    }
    for (auto& b : brackets)
      for (auto a : b.alive)
        // A diverged model (NaN or infinite error) ranks last, never breaks the sort.
        arms[a].loss = loss_of(objective.loss, sum[a], count[a]);
    // Promote the best 1/eta of each bracket; a bracket ends after its full-budget rung.
    std::vector<bracket_run> next;
    for (auto& b : brackets) {
      if (b.rung >= b.s)
        continue;
      bool d = has_defaults(b);
      std::vector<std::size_t> kept;
      for (auto a : b.alive)
        if (arms[a].c.is_default)
          kept.push_back(a);
      std::erase_if(b.alive, [&](std::size_t a) { return arms[a].c.is_default; });
      std::stable_sort(b.alive.begin(), b.alive.end(), [&](std::size_t x, std::size_t y) {
        return arms[x].loss < arms[y].loss || (arms[x].loss == arms[y].loss && x < y);
      });
      b.alive.resize(std::min(b.alive.size(), next_size(b.alive.size() + kept.size(), d) - kept.size()));
      b.alive.insert(b.alive.end(), kept.begin(), kept.end());
      ++b.rung;
      next.push_back(std::move(b));
    }
    brackets = std::move(next);
  }

  auto full_work = [&](const candidate& c) {
    std::uint64_t w = 0;
    for (std::size_t f = 0; f < objective.folds; ++f)
      w += objective.work(c, 1.0, f);
    return w;
  };
  // Rank: full budget first, then by budget reached; by loss, then candidate number.
  std::vector<std::size_t> order(arms.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    const auto& a = arms[x];
    const auto& b = arms[y];
    if (a.fraction != b.fraction)
      return a.fraction > b.fraction;
    return a.loss < b.loss || (a.loss == b.loss && x < y);
  });
  for (auto k : order) {
    const auto& a = arms[k];
    if (a.c.is_default)
      report.defaults = report.ranked.size();
    report.ranked.push_back({a.c, a.bracket, a.fraction, a.loss, a.work});
    report.unpruned_work += full_work(a.c);
  }
  report.best = 0;
  report.grid_candidates = grid_size(space, o.grid_points);
  if (report.grid_candidates <= max_grid)
    for (const auto& c : grid_candidates(space, o.grid_points))
      report.grid_work += full_work(c);
  return report;
}

}  // namespace recflow
