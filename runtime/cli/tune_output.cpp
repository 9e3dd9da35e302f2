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
  if (p.space.mode != tune_mode::stream)
    return fmt::format("{} it", std::max(1L, std::lround(fraction * full_iterations(p))));
  return fmt::format("{:.0f}%", fraction * 100.0);
}

/// What the table and the summary show of a loss: RMSE itself, HR@k = 1 - loss.
bool ranks(const tune_problem& p) { return p.space.mode == tune_mode::implicit; }
double shown(const tune_problem& p, double loss) { return ranks(p) ? 1.0 - loss : loss; }
std::string shown_name(const tune_problem& p) {
  return ranks(p) ? fmt::format("HR@{}", p.ranking.k) : std::string("rmse");
}

std::string millions(std::uint64_t w) { return fmt::format("{:.1f}M", double(w) / 1e6); }

}  // namespace

int full_iterations(const tune_problem& p) {
  switch (p.space.mode) {
    case tune_mode::batch: return p.als.iterations;
    case tune_mode::implicit: return p.implicit.iterations;
    case tune_mode::stream: return 0;
  }
  return 0;
}

std::string tune_table(const tune_problem& p, const tune_report& r, std::size_t top) {
  std::string out = fmt::format("{:>4}  {:>10}  {:>7}  {:>7}  {:>8}  {}\n", "#", "valid " + shown_name(p),
                                "budget", "bracket", "work", "settings");
  auto row = [&](std::size_t k) {
    const auto& c = r.ranked[k];
    out += fmt::format("{:>4}  {:>10.4f}  {:>7}  {:>7}  {:>8}  {}{}\n", k + 1, shown(p, c.loss),
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
  std::string full = mode != tune_mode::stream ? fmt::format("{} iterations", full_iterations)
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
  } else if (p.space.mode == tune_mode::implicit) {
    auto a = apply(p.space, c, p.implicit);
    j["implicit"] = true;
    j["rank"] = a.rank;
    j["iterations"] = a.iterations;
    j["lambda"] = a.lambda;
    j["lambda-exponent"] = a.lambda_exponent;
    j["alpha"] = a.alpha;
    j["confidence"] = to_string(a.confidence);
    j["epsilon"] = a.epsilon;
    j["solver"] = to_string(a.solver);
    j["cg-steps"] = a.cg_steps;
    j["weighting"] = to_string(a.weighting);
    j["bm25-k1"] = a.bm25_k1;
    j["bm25-b"] = a.bm25_b;
    j["missing-exponent"] = a.missing_exponent;
    j["recency-boost"] = a.recency_boost;
    j["recency-half-life"] = a.recency_half_life;
    j["negatives"] = p.ranking.negatives;
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
  text << '[' << (mode == tune_mode::stream ? "stream" : "batch") << "]\n";
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
  if (o.mode == tune_mode::implicit)
    return fmt::format("validation: each user's latest training event ({} train / {} validation "
                       "events), HR@{} against {} sampled items",
                       f.train.size(), f.validation.size(), p.ranking.k, p.ranking.negatives);
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

namespace {

/// The keys both summaries end with: what the search did and cost.
void add_search_work(nlohmann::json& j, const tune_report& r, std::size_t workers,
                     double seconds) {
  j["trials"] = r.trials;
  j["work"] = r.work;
  j["work_unit"] = r.work_unit;
  j["unpruned_work"] = r.unpruned_work;
  j["grid_candidates"] = r.grid_candidates;
  j["grid_work"] = r.grid_work;
  j["workers"] = workers;
  j["seconds"] = seconds;
}

}  // namespace

nlohmann::json tune_summary(const tune_report& r, const error_metrics& best_test,
                            const error_metrics& default_test, const nlohmann::json& settings,
                            std::size_t train_ratings, std::size_t workers, double seconds) {
  nlohmann::json j = {{"command", "tune"},
          {"best", settings},
          {"validation_rmse", r.ranked[r.best].loss},
          {"default_validation_rmse", r.ranked[r.defaults].loss},
          {"rmse", best_test.rmse},
          {"mae", best_test.mae},
          {"default_rmse", default_test.rmse},
          {"default_mae", default_test.mae},
          {"train_ratings", train_ratings},
          {"test_ratings", best_test.count},
          {"candidates", r.ranked.size()}};
  add_search_work(j, r, workers, seconds);
  return j;
}

nlohmann::json tune_implicit_summary(const tune_report& r, const tune_job_result& t,
                                     const nlohmann::json& settings, std::size_t workers,
                                     double seconds) {
  const auto& best = t.best_ranked;
  const auto& dflt = t.default_ranked;
  const auto k = best.ranking.k;
  auto at = [k](const char* name) { return fmt::format("{}_at_{}", name, k); };
  nlohmann::json j = {{"command", "tune"},
          {"mode", "implicit"},
          {"feedback", "implicit"},
          {"best", settings},
          {"validation_" + at("hr"), 1.0 - r.ranked[r.best].loss},
          {"default_validation_" + at("hr"), 1.0 - r.ranked[r.defaults].loss},
          {at("hr"), best.ranking.hit_rate},
          {at("ndcg"), best.ranking.ndcg},
          {"default_" + at("hr"), dflt.ranking.hit_rate},
          {"default_" + at("ndcg"), dflt.ranking.ndcg},
          {"popularity_" + at("hr"), best.popularity.hit_rate},
          {"popularity_" + at("ndcg"), best.popularity.ndcg},
          {"k", k},
          {"negatives", best.ranking.negatives},
          {"train_events", best.train_events},
          {"held_out", best.held_out},
          {"unknown", best.ranking.unknown},
          {"candidates", r.ranked.size()}};
  add_search_work(j, r, workers, seconds);
  return j;
}

namespace {

int print_implicit_results(const tune_cli_options& o, const loaded_data& data,
                           const tune_problem& p, const tune_job_result& t, double seconds) {
  const auto& r = t.report;
  const auto& best = r.ranked[r.best];
  const auto& dflt = r.ranked[r.defaults];
  const auto& b = t.best_ranked;
  const auto& d = t.default_ranked;
  const auto k = b.ranking.k;
  auto settings = settings_json(p, best.settings, o.order);
  if (o.implicit.threshold)
    settings["implicit-threshold"] = *o.implicit.threshold;
  if (!o.quiet) {
    std::cout << tune_table(p, r, o.top);
    std::cout << work_summary(r, full_iterations(p), o.job.mode) << '\n';
  }
  std::cout << fmt::format("best: {}  validation HR@{} {:.4f} (defaults {:.4f})\n",
                           describe(p.space, best.settings), k, 1.0 - best.loss, 1.0 - dflt.loss);
  std::cout << fmt::format("test HR@{0} {1:.4f}  NDCG@{0} {2:.4f} (defaults: HR@{0} {3:.4f}  NDCG@{0} "
                           "{4:.4f}; popularity baseline: HR@{0} {5:.4f}  NDCG@{0} {6:.4f}), "
                           "trained on all {7} training events, {8} held-out events each ranked "
                           "against {9} sampled items\n",
                           k, b.ranking.hit_rate, b.ranking.ndcg, d.ranking.hit_rate, d.ranking.ndcg,
                           b.popularity.hit_rate, b.popularity.ndcg, b.train_events, b.held_out,
                           b.ranking.negatives);
  if (!o.out.empty()) {
    auto header = fmt::format(
      "recflow tune --implicit --search {}: best of {} candidates on {}\n"
      "validation HR@{} {:.4f} (defaults {:.4f}); test HR@{} {:.4f} (defaults {:.4f})\n"
      "use: recflow batch --config {} --data FILE",
      o.search_name, r.ranked.size(), data.source, k, 1.0 - best.loss, 1.0 - dflt.loss, k,
      b.ranking.hit_rate, d.ranking.hit_rate, o.out);
    if (auto ok = write_tuned_config(o.out, o.job.mode, settings, header); !ok)
      return report(ok.err());
    std::cout << fmt::format("wrote the best settings to {} (recflow batch --config {})\n",
                             o.out, o.out);
  }
  if (o.json) {
    auto j = tune_implicit_summary(r, t, settings, o.job.workers, seconds);
    j["search"] = o.search_name;
    j["data"] = data.source;
    if (!o.out.empty())
      j["out"] = o.out;
    print_json(j);
  }
  return exit_ok;
}

}  // namespace

int print_tune_results(const tune_cli_options& o, const loaded_data& data, const tune_problem& p,
                       const tune_job_result& t, double seconds) {
  if (o.job.mode == tune_mode::implicit)
    return print_implicit_results(o, data, p, t, seconds);
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
