// `recflow tune`: hyper-parameter search for batch ALS or streaming on validation folds cut
// from the training ratings, run on a pool of actors; prints a ranked table, scores the
// winner and the defaults on the test set, and writes the winner as a config file.
//   recflow tune --mode batch --train u1.base --test u1.test --search hyperband --out best.toml
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/tune_output.hpp"
#include "recflow/engine/tune_pool.hpp"
#include "recflow/model/tune.hpp"
#include "recflow/model/tune_problem.hpp"

namespace recflow::cli {

namespace {

struct tune_cli_options {
  data_options data;
  tune_options search;
  std::string mode = "batch";
  std::string search_name = "hyperband";
  std::string sample = "random";
  std::string prune = "none";
  std::vector<std::string> params;
  int folds = 0;
  double validation = 0.2;
  std::size_t window = 50000;
  std::string order = "random";
  int iterations = als_params{}.iterations;
  std::size_t workers = 2;
  std::size_t top = 10;
  std::string out;
  bool json = false;
  bool quiet = false;
};

result<tune_mode> parse_mode(const std::string& s) {
  if (s == "batch") return tune_mode::batch;
  if (s == "stream") return tune_mode::stream;
  return error{errc::invalid_argument, "--mode must be batch or stream, got '" + s + "'"};
}

result<search_kind> parse_search(const std::string& s) {
  if (s == "grid") return search_kind::grid;
  if (s == "random") return search_kind::random;
  if (s == "hyperband") return search_kind::hyperband;
  return error{errc::invalid_argument, "--search must be grid, random or hyperband, got '" + s + "'"};
}

/// The problem the options describe: the space with --param applied, the base parameters
/// (seeded by --seed) and the validation folds, all from the training ratings.
result<tune_problem> make_problem(const tune_cli_options& o, tune_mode mode, stream_order order,
                                  const rating_table& train) {
  tune_problem p;
  p.space = default_space(mode);
  for (const auto& text : o.params) {
    auto spec = parse_param(text, mode);
    if (!spec)
      return spec.err();
    set_param(p.space, std::move(*spec));
  }
  p.als.iterations = o.iterations;
  p.als.seed = o.data.seed;
  p.stream.params.seed = o.data.seed;
  if (auto ok = validate(p.als); !ok)
    return ok.err();
  if (auto ok = check_space(p); !ok)
    return ok.err();
  if (mode == tune_mode::stream) {
    if (o.folds > 0)
      return error{errc::invalid_argument,
                   "--folds is for --mode batch: stream mode validates on the newest part of "
                   "its window (--window, --validation)"};
    auto fold = window_fold(train, o.window, o.validation, order, o.data.seed);
    if (!fold)
      return fold.err();
    p.folds.push_back(std::move(*fold));
  } else {
    auto folds = validation_folds(train, o.validation, o.folds, o.data.seed);
    if (!folds)
      return folds.err();
    p.folds = std::move(*folds);
  }
  return p;
}

std::string plan_text(const tune_cli_options& o, const tune_problem& p) {
  const auto& s = o.search;
  auto pruning = s.halving ? fmt::format(", successive halving from {:.0f}% (eta {})",
                                         100.0 * std::pow(double(s.eta), 1 - s.brackets), s.eta)
                           : std::string(", each at the full budget");
  if (s.search == search_kind::grid)
    return fmt::format("grid of {} candidates{}", grid_size(p.space, s.grid_points), pruning);
  if (s.search == search_kind::random)
    return fmt::format("random search, {} candidates{}", s.trials == 0 ? 20 : s.trials, pruning);
  std::string out = fmt::format("hyperband (eta {}, sampling {}):", s.eta, o.sample);
  for (const auto& b : hyperband_plan(s))
    out += fmt::format(" {}{} from {:.0f}%", b.candidates, b.s == 0 ? "+defaults" : "",
                       b.start_fraction * 100.0);
  return out;
}

int run_tune(tune_cli_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto mode = parse_mode(o.mode);
  if (!mode)
    return report(mode.err());
  auto kind = parse_search(o.search_name);
  if (!kind)
    return report(kind.err());
  o.search.search = *kind;
  o.search.seed = o.data.seed;
  if (o.sample != "random" && o.sample != "grid")
    return report({errc::invalid_argument, "--sample must be random or grid, got '" + o.sample + "'"});
  o.search.sample_grid = o.sample == "grid";
  if (o.prune != "none" && o.prune != "halving")
    return report({errc::invalid_argument, "--prune must be none or halving, got '" + o.prune + "'"});
  o.search.halving = o.prune == "halving";
  if (o.order != "random" && o.order != "time")
    return report({errc::invalid_argument, "--order must be random or time, got '" + o.order + "'"});
  auto order = o.order == "time" ? stream_order::time : stream_order::random;
  if (o.workers == 0)
    return report({errc::invalid_argument, "workers must be positive, got 0"});
  if (o.folds == 1 || o.folds < 0)
    return report({errc::invalid_argument, "--folds must be at least 2 (or 0 for a hold-out), got "
                                             + std::to_string(o.folds)});
  if (auto ok = validate(o.search); !ok)
    return report(ok.err());
  if (!o.out.empty()) {  // fail before the search, not after it
    auto folder = std::filesystem::absolute(o.out).parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec))
      return report({errc::io, o.out + ": cannot write the tuned settings: no folder " + folder.string()});
  }
  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  auto problem = make_problem(o, *mode, order, data->train);
  if (!problem)
    return report(problem.err());
  const auto& p = *problem;

  std::string validation_text =
    *mode == tune_mode::stream
      ? fmt::format("window of the last {} ratings ({} order): {} streamed, newest {} scored",
                    p.folds[0].train.size() + p.folds[0].validation.size(), o.order,
                    p.folds[0].train.size(), p.folds[0].validation.size())
    : o.folds >= 2 ? fmt::format("{}-fold cross-validation", o.folds)
                   : fmt::format("hold-out: {} train / {} validation", p.folds[0].train.size(),
                                 p.folds[0].validation.size());
  if (!o.quiet)
    std::cout << fmt::format("tuning {} on {}: {} training ratings; {}; {}; {} workers\n",
                             *mode == tune_mode::batch ? "batch ALS" : "streaming", data->source,
                             data->train.size(), validation_text, plan_text(o, p), o.workers)
              << std::flush;

  auto executor = actor_pool_executor(o.workers);
  auto objective = make_objective(p);
  auto defaults = *mode == tune_mode::batch ? default_candidate(p.space, p.als)
                                            : default_candidate(p.space, p.stream);
  std::unique_ptr<progress> bar;  // made by the first call (done = 0), which brings the total
  auto tuned = run_search(p.space, defaults, objective, o.search, executor,
                          [&](std::size_t done, std::size_t total) {
                            if (!bar)
                              bar = std::make_unique<progress>("tune", total, "trials", !o.quiet);
                            bar->update(done);
                          });
  if (bar)
    bar->finish();
  if (!tuned)
    return report(tuned.err());
  const auto& r = *tuned;
  const auto& best = r.ranked[r.best];
  const auto& dflt = r.ranked[r.defaults];

  // The final report: the winner and the defaults trained on all training ratings and
  // scored on the test set (which the search never saw), as two tasks on the pool.
  std::vector<std::optional<recflow::result<error_metrics>>> tested(2);
  const candidate* finalists[2] = {&best.settings, &dflt.settings};
  executor(
    2, [&](std::size_t k) {
      tested[k] = train_and_test(p, *finalists[k], data->train, data->test, order, o.data.seed);
    },
    [](std::size_t) {});
  for (auto& t : tested)
    if (!*t)
      return report(t->err());
  const auto& best_test = tested[0]->value();
  const auto& dflt_test = tested[1]->value();

  auto settings = settings_json(p, best.settings, o.order);
  if (!o.quiet) {
    std::cout << tune_table(p, r, o.top);
    std::cout << work_summary(r, p.als.iterations, *mode) << '\n';
  }
  std::cout << fmt::format("best: {}  validation rmse {:.4f} (defaults {:.4f})\n",
                           describe(p.space, best.settings), best.rmse, dflt.rmse);
  if (best_test.count == 0)
    std::cout << "no test ratings (--split 1?): the winner is not scored on a test set\n";
  else
    std::cout << fmt::format("test rmse {:.4f}  mae {:.4f} (defaults: rmse {:.4f}  mae {:.4f}), "
                             "trained on all {} training ratings, {} test ratings\n",
                             best_test.rmse, best_test.mae, dflt_test.rmse, dflt_test.mae,
                             data->train.size(), best_test.count);
  if (!o.out.empty()) {
    auto header = fmt::format(
      "recflow tune --mode {} --search {}: best of {} candidates on {}\n"
      "validation rmse {:.4f} (defaults {:.4f}); test rmse {:.4f} (defaults {:.4f})\n"
      "use: recflow {} --config {} --train FILE --test FILE",
      o.mode, o.search_name, r.ranked.size(), data->source, best.rmse, dflt.rmse, best_test.rmse,
      dflt_test.rmse, o.mode, o.out);
    if (auto ok = write_tuned_config(o.out, *mode, settings, header); !ok)
      return report(ok.err());
    std::cout << fmt::format("wrote the best settings to {} (recflow {} --config {})\n", o.out,
                             o.mode, o.out);
  }
  if (o.json) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j{{"command", "tune"},
                     {"mode", o.mode},
                     {"search", o.search_name},
                     {"best", settings},
                     {"validation_rmse", best.rmse},
                     {"default_validation_rmse", dflt.rmse},
                     {"rmse", best_test.rmse},
                     {"mae", best_test.mae},
                     {"default_rmse", dflt_test.rmse},
                     {"default_mae", dflt_test.mae},
                     {"train_ratings", data->train.size()},
                     {"test_ratings", best_test.count},
                     {"candidates", r.ranked.size()},
                     {"trials", r.trials},
                     {"work", r.work},
                     {"work_unit", r.work_unit},
                     {"unpruned_work", r.unpruned_work},
                     {"grid_candidates", r.grid_candidates},
                     {"grid_work", r.grid_work},
                     {"workers", o.workers},
                     {"seconds", seconds}};
    if (!o.out.empty())
      j["out"] = o.out;
    print_json(j);
  }
  return exit_ok;
}

}  // namespace

void add_tune_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<tune_cli_options>();
  auto* cmd = app.add_subcommand(
    "tune", "Search hyper-parameters of batch ALS or streaming (grid, random, hyperband) on "
            "validation folds of the training ratings; write the best as a config file");
  o->data.add_to(*cmd);
  cmd->add_option("--mode", o->mode, "batch (ALS) or stream (micro-batches)")->capture_default_str();
  cmd->add_option("--search", o->search_name,
                  "grid (every grid point, full budget), random (--trials samples, full budget) "
                  "or hyperband (successive-halving brackets)")
    ->capture_default_str();
  cmd->add_option("--trials", o->search.trials,
                  "random: samples (0: 20); hyperband: candidates over all brackets (0: 9+5+3 "
                  "for eta 3, 3 brackets)")
    ->capture_default_str();
  cmd->add_option("--param", o->params,
                  "NAME=1,2,3 or NAME=LO..HI[:log]: replaces that parameter's values in the "
                  "search space (repeatable; batch: rank, lambda, lambda-bias, lambda-exponent; "
                  "stream: rank, gamma, gamma-bias, lambda, lambda-bias, passes, batch-size)");
  cmd->add_option("--grid-points", o->search.grid_points, "Grid points per range")
    ->capture_default_str();
  cmd->add_option("--eta", o->search.eta, "hyperband: keep 1/eta per step; budgets grow by eta")
    ->capture_default_str();
  cmd->add_option("--brackets", o->search.brackets,
                  "hyperband: brackets; the smallest budget is eta^-(brackets-1)")
    ->capture_default_str();
  cmd->add_option("--sample", o->sample,
                  "hyperband: draw candidates at random from the ranges, or from the grid")
    ->capture_default_str();
  cmd->add_option("--prune", o->prune,
                  "grid and random: none (every candidate at the full budget) or halving "
                  "(successive halving from the smallest budget; the defaults always finish)")
    ->capture_default_str();
  cmd->add_option("--folds", o->folds,
                  "batch: k-fold cross-validation over the training ratings (0: hold-out)")
    ->capture_default_str();
  cmd->add_option("--validation", o->validation,
                  "Fraction held out for validation (batch hold-out; stream: the newest part "
                  "of the window)")
    ->capture_default_str();
  cmd->add_option("--window", o->window,
                  "stream: tune on the last W training ratings of the stream (0: all)")
    ->capture_default_str();
  cmd->add_option("--order", o->order, "stream: random (seeded) or time order")
    ->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "batch: ALS iterations of the full budget")
    ->capture_default_str();
  cmd->add_option("--workers", o->workers, "Actors evaluating trials in parallel")
    ->capture_default_str();
  cmd->add_option("--top", o->top, "Rows of the ranked table")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Write the best settings as a TOML config file for recflow batch|stream");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", o->quiet, "Only the results (no plan, progress or table)");
  cmd->callback([o, &exit_status] { exit_status = run_tune(*o); });
}

}  // namespace recflow::cli
