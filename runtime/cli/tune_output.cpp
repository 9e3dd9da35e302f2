#include "cli/tune_output.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "cli/output.hpp"

namespace recflow::cli {

namespace {

std::string budget_text(const tune_problem& p, double fraction) {
  if (p.space.mode == tune_mode::batch)
    return fmt::format("{} it", std::max(1L, std::lround(fraction * p.als.iterations)));
  return fmt::format("{:.0f}%", fraction * 100.0);
}

std::string millions(std::uint64_t w) { return fmt::format("{:.1f}M", double(w) / 1e6); }

}  // namespace

std::string tune_table(const tune_problem& p, const tune_report& r, std::size_t top) {
  std::string out = fmt::format("{:>4}  {:>10}  {:>7}  {:>7}  {:>8}  {}\n", "#", "valid rmse",
                                "budget", "bracket", "work", "settings");
  auto row = [&](std::size_t k) {
    const auto& c = r.ranked[k];
    out += fmt::format("{:>4}  {:>10.4f}  {:>7}  {:>7}  {:>8}  {}{}\n", k + 1, c.loss,
                       budget_text(p, c.fraction),
                       c.bracket < 0 ? std::string("-") : fmt::format("s={}", c.bracket),
                       millions(c.work), describe(p.space, c.settings),
                       c.settings.is_default ? "  (defaults)" : "");
  };
  for (std::size_t k = 0; k < r.ranked.size() && k < top; ++k)
    row(k);
  if (r.ranked.size() > top) {
    if (r.defaults >= top) {
      out += "   ...\n";
      row(r.defaults);
    }
    out += fmt::format("   ({} candidates in all)\n", r.ranked.size());
  }
  return out;
}

std::string work_summary(const tune_report& r, int full_iterations, tune_mode mode) {
  auto pct = [](std::uint64_t a, std::uint64_t b) { return b ? 100.0 * double(a) / double(b) : 0.0; };
  std::string full = mode == tune_mode::batch ? fmt::format("{} iterations", full_iterations)
                                              : std::string("the whole window");
  if (r.work == r.unpruned_work)
    return fmt::format("work: {} {} in {} trials, every candidate at the full budget ({:.1f}% "
                       "of the full grid: {} candidates at {}, {})",
                       millions(r.work), r.work_unit, r.trials, pct(r.work, r.grid_work),
                       r.grid_candidates, full, millions(r.grid_work));
  return fmt::format(
    "work: {} {} in {} trials = {:.1f}% of the full grid ({} candidates at {}: {}), "
    "pruning saved {:.1f}% of it; the {} candidates tried, each at the full budget: {} "
    "(pruning saved {:.1f}%)",
    millions(r.work), r.work_unit, r.trials, pct(r.work, r.grid_work), r.grid_candidates, full,
    millions(r.grid_work), 100.0 - pct(r.work, r.grid_work), r.ranked.size(),
    millions(r.unpruned_work), 100.0 - pct(r.work, r.unpruned_work));
}

nlohmann::json settings_json(const tune_problem& p, const candidate& c, const std::string& order) {
  nlohmann::json j = nlohmann::json::object();
  if (p.space.mode == tune_mode::batch) {
    auto a = apply(p.space, c, p.als);
    j["rank"] = a.rank;
    j["iterations"] = a.iterations;
    j["lambda"] = a.lambda;
    j["lambda-bias"] = a.lambda_bias;
    j["lambda-exponent"] = a.lambda_exponent;
  } else {
    auto s = apply(p.space, c, p.stream);
    j["rank"] = s.params.rank;
    j["batch-size"] = s.batch_size;
    j["passes"] = s.params.passes;
    j["order"] = order;
    j["gamma"] = s.params.gamma;
    j["gamma-bias"] = s.params.gamma_bias;
    j["lambda"] = s.params.lambda;
    j["lambda-bias"] = s.params.lambda_bias;
  }
  return j;
}

result<void> write_tuned_config(const std::string& path, tune_mode mode,
                                const nlohmann::json& settings, const std::string& header) {
  std::ostringstream text;
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);)
    text << "# " << line << '\n';
  text << '[' << to_string(mode) << "]\n";
  for (const auto& [key, value] : settings.items()) {
    if (value.is_string())
      text << key << " = \"" << value.get<std::string>() << "\"\n";
    else if (value.is_number_float())
      text << key << " = " << fmt::format("{}", value.get<double>()) << '\n';
    else
      text << key << " = " << value.dump() << '\n';
  }
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << text.str()) || !out.flush())
      return error{errc::io, path + ": cannot write the tuned settings"};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return error{errc::io, path + ": cannot write the tuned settings (" + ec.message() + ")"};
  }
  return {};
}

std::string validation_text(const tune_job_options& o, const tune_problem& p,
                            const std::string& order) {
  const auto& f = p.folds[0];
  if (o.mode == tune_mode::stream)
    return fmt::format("window of the last {} ratings ({} order): {} streamed, newest {} scored",
                       f.train.size() + f.validation.size(), order, f.train.size(),
                       f.validation.size());
  if (o.folds >= 2)
    return fmt::format("{}-fold cross-validation", o.folds);
  return fmt::format("hold-out: {} train / {} validation", f.train.size(), f.validation.size());
}

std::string plan_text(const tune_options& s, const tune_problem& p, const std::string& sample) {
  auto pruning = s.halving ? fmt::format(", successive halving from {:.0f}% (eta {})",
                                         100.0 * std::pow(double(s.eta), 1 - s.brackets), s.eta)
                           : std::string(", each at the full budget");
  if (s.search == search_kind::grid)
    return fmt::format("grid of {} candidates{}", grid_size(p.space, s.grid_points), pruning);
  if (s.search == search_kind::random)
    return fmt::format("random search, {} candidates{}", s.trials == 0 ? 20 : s.trials, pruning);
  std::string out = fmt::format("hyperband (eta {}, sampling {}):", s.eta, sample);
  for (const auto& b : hyperband_plan(s))
    out += fmt::format(" {}{} from {:.0f}%", b.candidates, b.s == 0 ? "+defaults" : "",
                       b.start_fraction * 100.0);
  return out;
}

nlohmann::json tune_summary(const tune_report& r, const error_metrics& best_test,
                            const error_metrics& default_test, const nlohmann::json& settings,
                            std::size_t train_ratings, std::size_t workers, double seconds) {
  return {{"command", "tune"},
          {"best", settings},
          {"validation_rmse", r.ranked[r.best].loss},
          {"default_validation_rmse", r.ranked[r.defaults].loss},
          {"rmse", best_test.rmse},
          {"mae", best_test.mae},
          {"default_rmse", default_test.rmse},
          {"default_mae", default_test.mae},
          {"train_ratings", train_ratings},
          {"test_ratings", best_test.count},
          {"candidates", r.ranked.size()},
          {"trials", r.trials},
          {"work", r.work},
          {"work_unit", r.work_unit},
          {"unpruned_work", r.unpruned_work},
          {"grid_candidates", r.grid_candidates},
          {"grid_work", r.grid_work},
          {"workers", workers},
          {"seconds", seconds}};
}

int print_tune_results(const tune_cli_options& o, const loaded_data& data, const tune_problem& p,
                       const tune_job_result& t, double seconds) {
  const auto& r = t.report;
  const auto& best = r.ranked[r.best];
  const auto& dflt = r.ranked[r.defaults];
  auto settings = settings_json(p, best.settings, o.order);
  if (!o.quiet) {
    std::cout << tune_table(p, r, o.top);
    std::cout << work_summary(r, p.als.iterations, o.job.mode) << '\n';
  }
  std::cout << fmt::format("best: {}  validation rmse {:.4f} (defaults {:.4f})\n",
                           describe(p.space, best.settings), best.loss, dflt.loss);
  if (t.best_test.count == 0)
    std::cout << "no test ratings (--split 1?): the winner is not scored on a test set\n";
  else
    std::cout << fmt::format("test rmse {:.4f}  mae {:.4f} (defaults: rmse {:.4f}  mae {:.4f}), "
                             "trained on all {} training ratings, {} test ratings\n",
                             t.best_test.rmse, t.best_test.mae, t.default_test.rmse,
                             t.default_test.mae, data.train.size(), t.best_test.count);
  if (!o.out.empty()) {
    auto header = fmt::format(
      "recflow tune --mode {} --search {}: best of {} candidates on {}\n"
      "validation rmse {:.4f} (defaults {:.4f}); test rmse {:.4f} (defaults {:.4f})\n"
      "use: recflow {} --config {} --train FILE --test FILE",
      o.mode, o.search_name, r.ranked.size(), data.source, best.loss, dflt.loss,
      t.best_test.rmse, t.default_test.rmse, o.mode, o.out);
    if (auto ok = write_tuned_config(o.out, o.job.mode, settings, header); !ok)
      return report(ok.err());
    std::cout << fmt::format("wrote the best settings to {} (recflow {} --config {})\n", o.out,
                             o.mode, o.out);
  }
  if (o.json) {
    auto j = tune_summary(r, t.best_test, t.default_test, settings, data.train.size(),
                          o.job.workers, seconds);
    j["mode"] = o.mode;
    j["search"] = o.search_name;
    if (!o.out.empty())
      j["out"] = o.out;
    print_json(j);
  }
  return exit_ok;
}

}  // namespace recflow::cli
