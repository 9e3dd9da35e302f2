// `recflow tune`: hyper-parameter search for batch ALS, streaming or implicit ALS on
// validation folds cut from the training ratings, run on a pool of actors; prints a ranked
// table, scores the winner and the defaults on the test set, and writes the winner as a
// config file.
//   recflow tune --mode batch --train u1.base --test u1.test --search hyperband --out best.toml
//   recflow tune --implicit --data u.data --search hyperband --json
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/tune_output.hpp"
#include "recflow/job/tune_job.hpp"

namespace recflow::cli {

namespace {

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

/// --implicit: the options that belong to the other modes, then the implicit options.
/// The other modes' options are refused when they differ from their defaults, not when
/// merely given: the shipped config file's [tune] section states them all.
result<void> parse_implicit(tune_cli_options& o, const CLI::App& cmd) {
  if (!o.implicit.implicit) {
    for (const auto& name : implicit_options::option_names())
      if (cmd.count(name) > 0)
        return error{errc::invalid_argument, name + " is for tune --implicit"};
    return {};
  }
  const tune_cli_options defaults;
  if (o.mode != defaults.mode)
    return error{errc::invalid_argument,
                 "--implicit is a mode of its own (implicit ALS on events): drop --mode"};
  if (o.job.window != defaults.job.window || o.order != defaults.order)
    return error{errc::invalid_argument, "--window and --order are for --mode stream, not --implicit"};
  if (o.job.folds != defaults.job.folds || o.job.validation != defaults.job.validation)
    return error{errc::invalid_argument,
                 "--implicit validates on each user's latest training event: --folds and "
                 "--validation are not for it"};
  if (o.data.split != defaults.data.split)
    return error{errc::invalid_argument,
                 "--implicit tests on each user's latest event: --split is not for it"};
  o.job.mode = tune_mode::implicit;
  if (cmd.count("--iterations") == 0)
    o.job.iterations = implicit_params{}.iterations;
  if (auto ok = o.implicit.resolve(o.data); !ok)
    return ok;
  o.job.implicit = o.implicit.job;
  return {};
}

/// The choices spelled as words, then the job's own checks and the --out folder.
result<void> parse_choices(tune_cli_options& o, const CLI::App& cmd) {
  auto& job = o.job;
  auto mode = parse_mode(o.mode);
  if (!mode)
    return mode.err();
  job.mode = *mode;
  if (auto ok = parse_implicit(o, cmd); !ok)
    return ok;
  auto kind = parse_search(o.search_name);
  if (!kind)
    return kind.err();
  job.search.search = *kind;
  job.seed = job.search.seed = o.data.seed;
  if (o.sample != "random" && o.sample != "grid")
    return error{errc::invalid_argument, "--sample must be random or grid, got '" + o.sample + "'"};
  job.search.sample_grid = o.sample == "grid";
  if (o.prune != "none" && o.prune != "halving")
    return error{errc::invalid_argument, "--prune must be none or halving, got '" + o.prune + "'"};
  job.search.halving = o.prune == "halving";
  auto order = parse_order(o.order);
  if (!order)
    return order.err();
  job.order = *order;
  if (auto ok = validate(job); !ok)
    return ok;
  if (!o.out.empty()) {  // fail before the search, not after it
    auto folder = std::filesystem::absolute(o.out).parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec))
      return error{errc::io, o.out + ": cannot write the tuned settings: no folder " + folder.string()};
  }
  return {};
}

/// The events of --implicit, split: each user's latest in the test part.
result<loaded_data> load_events(const tune_cli_options& o) {
  std::string file;
  auto events = o.implicit.read(o.data, file);
  if (!events)
    return events.err();
  auto split = hold_out_latest(*events, o.data.seed);
  return loaded_data{.train = std::move(split.train), .test = std::move(split.test),
                     .source = fmt::format("{} ({})", file, o.implicit.events_text())};
}

const char* mode_text(tune_mode m) {
  switch (m) {
    case tune_mode::batch: return "batch ALS";
    case tune_mode::stream: return "streaming";
    case tune_mode::implicit: return "implicit ALS";
  }
  return "?";
}

int run_tune(tune_cli_options& o, const CLI::App& cmd) {
  auto t0 = std::chrono::steady_clock::now();
  if (auto ok = parse_choices(o, cmd); !ok)
    return report(ok.err());
  const bool implicit = o.job.mode == tune_mode::implicit;
  auto data = implicit ? load_events(o) : load_data(o.data);
  if (!data)
    return report(data.err());
  auto problem = make_tune_problem(o.job, data->train);
  if (!problem)
    return report(problem.err());
  if (!o.quiet)
    std::cout << fmt::format("tuning {} on {}: {} training {}; {}; {}; {} workers\n",
                             mode_text(o.job.mode), data->source, data->train.size(),
                             implicit ? "events" : "ratings",
                             validation_text(o.job, *problem, o.order),
                             plan_text(o.job.search, *problem, o.sample), o.job.workers)
              << std::flush;
  std::unique_ptr<progress> bar;  // made by the first call (done = 0), which brings the total
  auto tuned = run_tune_job(*problem, o.job, data->train, data->test,
                            [&](std::size_t done, std::size_t total) {
                              if (!bar)
                                bar = std::make_unique<progress>("tune", total, "trials", !o.quiet);
                              bar->update(done);
                            });
  if (bar)
    bar->finish();
  if (!tuned)
    return report(tuned.err());
  return print_tune_results(o, *data, *problem, *tuned,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

void add_tune_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<tune_cli_options>();
  auto* cmd = app.add_subcommand(
    "tune", "Search hyper-parameters of batch ALS, streaming or implicit ALS (grid, random, "
            "hyperband) on validation folds of the training ratings; write the best as a "
            "config file");
  o->data.add_to(*cmd);
  o->implicit.add_to(*cmd);
  cmd->add_option("--mode", o->mode, "batch (ALS) or stream (micro-batches)")->capture_default_str();
  cmd->add_option("--search", o->search_name,
                  "grid (every grid point, full budget), random (--trials samples, full budget) "
                  "or hyperband (successive-halving brackets)")
    ->capture_default_str();
  cmd->add_option("--trials", o->job.search.trials,
                  "random: samples (0: 20); hyperband: candidates over all brackets (0: 9+5+3 "
                  "for eta 3, 3 brackets)")
    ->capture_default_str();
  cmd->add_option("--param", o->job.params,
                  "NAME=1,2,3 or NAME=LO..HI[:log]: replaces that parameter's values in the "
                  "search space (repeatable; batch: rank, lambda, lambda-bias, lambda-exponent; "
                  "stream: rank, gamma, gamma-bias, lambda, lambda-bias, passes, batch-size; "
                  "--implicit: rank, lambda, alpha)");
  cmd->add_option("--grid-points", o->job.search.grid_points, "Grid points per range")
    ->capture_default_str();
  cmd->add_option("--eta", o->job.search.eta, "hyperband: keep 1/eta per step; budgets grow by eta")
    ->capture_default_str();
  cmd->add_option("--brackets", o->job.search.brackets,
                  "hyperband: brackets; the smallest budget is eta^-(brackets-1)")
    ->capture_default_str();
  cmd->add_option("--sample", o->sample,
                  "hyperband: draw candidates at random from the ranges, or from the grid")
    ->capture_default_str();
  cmd->add_option("--prune", o->prune,
                  "grid and random: none (every candidate at the full budget) or halving "
                  "(successive halving from the smallest budget; the defaults always finish)")
    ->capture_default_str();
  cmd->add_option("--folds", o->job.folds,
                  "batch: k-fold cross-validation over the training ratings (0: hold-out)")
    ->capture_default_str();
  cmd->add_option("--validation", o->job.validation,
                  "Fraction held out for validation (batch hold-out; stream: the newest part "
                  "of the window)")
    ->capture_default_str();
  cmd->add_option("--window", o->job.window,
                  "stream: tune on the last W training ratings of the stream (0: all)")
    ->capture_default_str();
  cmd->add_option("--order", o->order, "stream: random (seeded) or time order")
    ->capture_default_str();
  cmd->add_option("--iterations", o->job.iterations,
                  fmt::format("batch, --implicit: ALS iterations of the full budget (--implicit: "
                              "{} unless given)", implicit_params{}.iterations))
    ->capture_default_str();
  cmd->add_option("--workers", o->job.workers, "Actors evaluating trials in parallel")
    ->capture_default_str();
  cmd->add_option("--top", o->top, "Rows of the ranked table")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Write the best settings as a TOML config file for recflow batch|stream");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", o->quiet, "Only the results (no plan, progress or table)");
  cmd->callback([o, cmd, &exit_status] { exit_status = run_tune(*o, *cmd); });
}

}  // namespace recflow::cli
