// `recflow batch --implicit`: options, the run, and what it prints.
#include "cli/batch_implicit.hpp"

#include <chrono>
#include <functional>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/engine/thread_tasks.hpp"
#include "recflow/data/events.hpp"

namespace recflow::cli {

void implicit_options::add_to(CLI::App& cmd, const char* help) {
  auto& p = job.als;
  cmd.add_flag("--implicit", implicit,
               help ? help
                    : "Implicit feedback: train implicit ALS (as Spark's ALS.trainImplicit) on "
                      "events 'user item [weight] [timestamp]' and score each user's latest "
                      "event against sampled items (HR@k, NDCG@k) beside item popularity");
  cmd.add_option("--alpha", p.alpha, "With --implicit: confidence 1 + alpha * weight")
    ->capture_default_str();
  cmd.add_option("--implicit-threshold", threshold,
                 "With --implicit: read a rating file and keep ratings >= this as events of "
                 "weight 1");
  cmd.add_option("--solver", solver,
                 "With --implicit: cholesky (exact solves) or cg (a few conjugate-gradient "
                 "steps per solve)")
    ->capture_default_str();
  cmd.add_option("--cg-steps", p.cg_steps, "With --solver cg: steps per solve")
    ->capture_default_str();
  cmd.add_option("--confidence", confidence,
                 "With --implicit: linear (1 + alpha * w) or log (1 + alpha * log(1 + w / "
                 "epsilon))")
    ->capture_default_str();
  cmd.add_option("--epsilon", p.epsilon, "With --confidence log: the weight scale")
    ->capture_default_str();
  cmd.add_option("--weighting", weighting,
                 "With --implicit: reweight the training events before confidence: none, "
                 "bm25 or tfidf (items as documents, users as terms)")
    ->capture_default_str();
  cmd.add_option("--bm25-k1", p.bm25_k1, "With --weighting bm25: saturation k1")
    ->capture_default_str();
  cmd.add_option("--bm25-b", p.bm25_b, "With --weighting bm25: length normalisation b")
    ->capture_default_str();
  cmd.add_option("--missing-exponent", p.missing_exponent,
                 "With --implicit: a pair without an event on item i weighs n_i^this (mean 1; "
                 "0: all 1)")
    ->capture_default_str();
  cmd.add_option("--recency-boost", p.recency_boost,
                 "With --implicit: an event's weight times 1 + this * 2^(-a / half-life), a "
                 "the user's later training events (0: off)")
    ->capture_default_str();
  cmd.add_option("--recency-half-life", p.recency_half_life,
                 "With --recency-boost: the half-life in events")
    ->capture_default_str();
  cmd.add_option("--negatives", job.ranking.negatives,
                 "With --implicit: sampled items each held-out event is ranked against")
    ->capture_default_str();
}

const std::vector<std::string>& implicit_options::option_names() {
  static const std::vector<std::string> names = {
    "--alpha", "--implicit-threshold", "--solver", "--cg-steps", "--confidence", "--epsilon",
    "--weighting", "--bm25-k1", "--bm25-b", "--missing-exponent", "--recency-boost",
    "--recency-half-life", "--negatives"};
  return names;
}

result<void> implicit_options::parse_words() {
  auto& p = job.als;
  auto parsed_solver = parse_implicit_solver(solver);
  if (!parsed_solver)
    return error{errc::invalid_argument, "--solver must be cholesky or cg, got '" + solver + "'"};
  p.solver = *parsed_solver;
  auto form = parse_confidence_form(confidence);
  if (!form)
    return error{errc::invalid_argument,
                 "--confidence must be linear or log, got '" + confidence + "'"};
  p.confidence = *form;
  auto parsed_weighting = parse_event_weighting(weighting);
  if (!parsed_weighting)
    return error{errc::invalid_argument,
                 "--weighting must be none, bm25 or tfidf, got '" + weighting + "'"};
  p.weighting = *parsed_weighting;
  return {};
}

result<void> implicit_options::resolve(const data_options& data) {
  auto& p = job.als;
  p.seed = data.seed;
  job.split_seed = data.seed;
  job.ranking.seed = data.seed;
  if (auto ok = parse_words(); !ok)
    return ok;
  if (!data.train.empty() || !data.test.empty())
    return error{errc::invalid_argument,
                 "--implicit holds out each user's latest event of one file: give --data, "
                 "not --train/--test"};
  if (auto ok = validate(p); !ok)
    return ok;
  return validate(job.ranking);
}

std::string implicit_options::events_text() const {
  return threshold ? fmt::format("ratings >= {} as events", *threshold) : "events";
}

result<rating_table> implicit_options::read(const data_options& data, std::string& file) const {
  auto path = data_file(data);
  if (!path)
    return path.err();
  file = *path;
  auto ingest = make_ingest_options(data);
  if (!ingest)
    return ingest.err();
  ingest_report lines;
  auto events = read_events(file, {.ingest = *ingest, .threshold = threshold}, &lines);
  if (events && lines.skipped > 0)
    std::cerr << "recflow: skipped " << lines.skipped << " bad lines (--lenient)\n";
  return events;
}

namespace {

/// The implicit parameters after the shared options given and the words parsed.
result<void> resolve(implicit_options& o, const implicit_shared& s) {
  auto& p = o.job.als;
  auto given = [&](const char* name) { return s.cmd.count(name) > 0; };
  if (given("--rank")) p.rank = s.als.rank;
  if (given("--iterations")) p.iterations = s.als.iterations;
  if (given("--lambda")) p.lambda = s.als.lambda;
  if (given("--lambda-exponent")) p.lambda_exponent = s.als.lambda_exponent;
  if (given("--init-stddev")) p.init_stddev = s.als.init_stddev;
  o.job.ranking.k = s.k;
  if (auto ok = o.resolve(s.data); !ok)
    return ok;
  auto& where = o.job.where;
  if (p.missing_exponent != 0.0 && !where.reference) {
    // The blocks of the graph weigh every missing pair 1; the reference weighs them.
    if (!where.nodes.empty())
      return error{errc::invalid_argument,
                   "--missing-exponent needs --engine reference: the blocks of the graph "
                   "weigh every missing pair 1"};
    where.reference = true;
    if (!s.quiet)
      std::cerr << "recflow: --missing-exponent trains on one thread (--engine reference): "
                   "the blocks of the graph weigh every missing pair 1\n";
  }
  return {};
}

/// The keys both summaries start with: where the model trained.
nlohmann::json placement_json(const implicit_options& o) {
  const auto& where = o.job.where;
  nlohmann::json j = {{"command", "batch"}, {"feedback", "implicit"},
                      {"engine", where.reference ? "reference" : "local"}};
  if (!where.reference) {
    j["partitions"] = where.graph.partitions;
    if (!where.nodes.empty())
      j["nodes"] = where.nodes.size();
  }
  return j;
}

/// ", bm25 weighting (k1 100, b 0.8)" and friends; empty for the plain model.
std::string weighting_text(const implicit_params& p) {
  std::string t;
  if (p.weighting == event_weighting::bm25)
    t += fmt::format(", bm25 weighting (k1 {}, b {})", p.bm25_k1, p.bm25_b);
  else if (p.weighting == event_weighting::tfidf)
    t += ", tfidf weighting";
  if (p.missing_exponent != 0.0)
    t += fmt::format(", missing pairs weighted by popularity^{}", p.missing_exponent);
  if (p.recency_boost != 0.0)
    t += fmt::format(", recency boost {} (half-life {} events)", p.recency_boost,
                     p.recency_half_life);
  return t;
}

/// The keys both summaries end with (the threshold, the saved model, the seconds), then
/// the line.
void print_summary(nlohmann::json& j, const implicit_options& o, const implicit_shared& s,
                   std::chrono::steady_clock::time_point t0) {
  if (o.threshold)
    j["implicit_threshold"] = *o.threshold;
  if (!s.save.empty())
    j["model"] = s.save;
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  print_json(j);
}

/// After each sweep: the progress bar and, with --metrics, the sweep counter, the objective
/// gauge and an event on the dashboard.
std::function<void(int, double)> sweep_reporter(progress& bar, std::string& note,
                                                serve::live_monitor* monitor) {
  return [&bar, &note, monitor](int it, double objective) {
    note = fmt::format("objective {:.6g}", objective);
    bar.update(static_cast<std::uint64_t>(it), note);
    if (monitor) {
      auto& r = monitor->registry();
      r.counter("recflow_als_sweeps_total", "ALS sweeps done (users then items)").add();
      r.gauge("recflow_implicit_objective", "Implicit ALS objective after the last sweep")
        .set(objective);
      monitor->on_event("sweep", fmt::format("implicit ALS sweep {}: {}", it, note));
    }
  };
}

/// `--time-split F`: trains on the earliest 1 - F of the events and ranks every item for
/// the users of the later ones, beside popularity.
int run_time_split(const implicit_options& o, const implicit_shared& s, const std::string& file,
                   const rating_table& events, std::chrono::steady_clock::time_point t0) {
  const auto& p = o.job.als;
  progress bar("implicit ALS", static_cast<std::uint64_t>(p.iterations), "iterations", !s.quiet);
  std::string note;
  auto run = run_implicit_time_split(events, o.job, *s.time_split, thread_tasks(s.workers),
                                     sweep_reporter(bar, note, s.monitor));
  bar.finish();
  if (s.monitor)
    s.monitor->finish(std::nullopt, std::nullopt);
  if (!run)
    return report(run.err());
  const auto& r = *run;
  std::cout << fmt::format("implicit ALS on {} ({}): rank {}, {} iterations, lambda {}, alpha {}, "
                           "{} confidence{}, solver {}\n",
                           file, o.events_text(), p.rank, p.iterations, p.lambda, p.alpha,
                           to_string(p.confidence), weighting_text(p), to_string(p.solver));
  std::cout << fmt::format("time split: the earliest {} events train ({} users, {} items), the "
                           "latest {} ({:g}%) are ranked against every item\n",
                           r.train_events, r.model.n_users(), r.model.n_items(), r.test_events,
                           *s.time_split * 100.0);
  std::cout << "test       " << ranking_text(r.ranking) << '\n';
  std::cout << "popularity " << ranking_text(r.popularity) << '\n';
  std::cout << fmt::format("trained in {:.2f} s\n", r.train_seconds);
  if (!s.save.empty()) {
    auto meta = implicit_metadata(o.job, file, *s.time_split, r);
    if (auto saved = save_model(r.model, s.save, meta); !saved)
      return report(saved.err());
    std::cout << "saved model to " << s.save << '\n';
  }
  if (s.json) {
    nlohmann::json ranking, popularity;
    add_ranking_json(ranking, r.ranking);
    add_ranking_json(popularity, r.popularity);
    auto j = placement_json(o);
    j.update({
        {"data", file}, {"rank", p.rank}, {"iterations", p.iterations}, {"lambda", p.lambda},
        {"alpha", p.alpha}, {"time_split", *s.time_split}, {"train_events", r.train_events},
        {"test_events", r.test_events}, {"users", r.model.n_users()},
        {"items", r.model.n_items()}, {"ranking", ranking}, {"popularity_ranking", popularity},
        {"train_seconds", r.train_seconds}});
    print_summary(j, o, s, t0);
  }
  return exit_ok;
}

}  // namespace

void show_ranking(serve::live_monitor& monitor, const sampled_ranking_metrics& r) {
  auto& reg = monitor.registry();
  reg.gauge("recflow_implicit_hit_rate", "HR@k of the held-out events (k: --ranking-k)")
    .set(r.hit_rate);
  reg.gauge("recflow_implicit_ndcg", "NDCG@k of the held-out events (k: --ranking-k)")
    .set(r.ndcg);
}

int run_batch_implicit(implicit_options o, const implicit_shared& s) {
  const auto t0 = std::chrono::steady_clock::now();
  if (auto ok = resolve(o, s); !ok)
    return report(ok.err());
  std::string file;
  auto events = o.read(s.data, file);
  if (!events)
    return report(events.err());
  if (s.time_split)
    return run_time_split(o, s, file, *events, t0);

  const auto& p = o.job.als;
  progress bar("implicit ALS", static_cast<std::uint64_t>(p.iterations), "iterations", !s.quiet);
  std::string note;
  auto run = run_implicit_job(*events, o.job, sweep_reporter(bar, note, s.monitor));
  bar.finish(note);
  if (!run)
    return report(run.err());
  const auto& r = *run;
  const auto k = r.ranking.k;
  if (s.monitor) {
    show_ranking(*s.monitor, r.ranking);
    s.monitor->registry()
      .gauge("recflow_implicit_popularity_hit_rate", "HR@k of item popularity, the same negatives")
      .set(r.popularity.hit_rate);
    s.monitor->finish(std::nullopt, std::nullopt);
  }
  const double per_iteration = r.train_seconds / p.iterations;
  std::cout << fmt::format("implicit ALS on {} ({}): rank {}, {} iterations, lambda {}, alpha {}, "
                           "{} confidence{}, solver {}{}\n",
                           file, o.events_text(), p.rank, p.iterations, p.lambda, p.alpha,
                           to_string(p.confidence), weighting_text(p), to_string(p.solver),
                           p.solver == implicit_solver::cg ? fmt::format(" ({} steps)", p.cg_steps)
                                                           : std::string());
  std::cout << fmt::format("leave-latest-out: {} train events ({} users, {} items), {} held out, "
                           "each ranked against {} sampled items (seed {})\n",
                           r.train_events, r.model.n_users(), r.model.n_items(), r.held_out,
                           r.ranking.negatives, o.job.ranking.seed);
  std::cout << fmt::format("test HR@{0} {1:.4f}  NDCG@{0} {2:.4f}   popularity baseline HR@{0} "
                           "{3:.4f}  NDCG@{0} {4:.4f}\n",
                           k, r.ranking.hit_rate, r.ranking.ndcg, r.popularity.hit_rate,
                           r.popularity.ndcg);
  std::cout << fmt::format("trained in {:.2f} s ({:.3f} s per iteration)\n", r.train_seconds,
                           per_iteration);
  if (r.ranking.unknown > 0)
    std::cout << fmt::format("{} held-out events name an item with no training event (misses)\n",
                             r.ranking.unknown);
  if (!s.save.empty()) {
    if (auto saved = save_model(r.model, s.save, implicit_metadata(o.job, file, r)); !saved)
      return report(saved.err());
    std::cout << "saved model to " << s.save << '\n';
  }
  if (s.json) {
    auto j = placement_json(o);
    j.update({
        {"data", file}, {"rank", p.rank}, {"iterations", p.iterations},
        {"lambda", p.lambda}, {"lambda_exponent", p.lambda_exponent}, {"alpha", p.alpha},
        {"confidence", to_string(p.confidence)}, {"epsilon", p.epsilon},
        {"solver", to_string(p.solver)}, {"cg_steps", p.cg_steps},
        {"weighting", to_string(p.weighting)}, {"bm25_k1", p.bm25_k1}, {"bm25_b", p.bm25_b},
        {"missing_exponent", p.missing_exponent},
        {"recency_boost", p.recency_boost}, {"recency_half_life", p.recency_half_life},
        {"train_events", r.train_events}, {"held_out", r.held_out},
        {"unknown", r.ranking.unknown}, {"users", r.model.n_users()},
        {"items", r.model.n_items()}, {"k", k}, {"negatives", r.ranking.negatives},
        {fmt::format("hr_at_{}", k), r.ranking.hit_rate},
        {fmt::format("ndcg_at_{}", k), r.ranking.ndcg},
        {fmt::format("popularity_hr_at_{}", k), r.popularity.hit_rate},
        {fmt::format("popularity_ndcg_at_{}", k), r.popularity.ndcg},
        {"train_seconds", r.train_seconds}, {"seconds_per_iteration", per_iteration}});
    print_summary(j, o, s, t0);
  }
  return exit_ok;
}

}  // namespace recflow::cli
