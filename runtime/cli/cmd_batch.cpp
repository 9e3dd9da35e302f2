// `recflow batch`: train batch ALS, evaluate on held-out ratings, optionally save; with
// --implicit, implicit ALS on events (cli/batch_implicit.cpp).
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/batch_implicit.hpp"
#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/nodes_option.hpp"
#include "cli/output.hpp"
#include "cli/serve_options.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/engine/cluster_als.hpp"
#include "recflow/engine/thread_tasks.hpp"
#include "recflow/job/als_job.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"

namespace recflow::cli {

namespace {

struct batch_options {
  data_options data;
  als_job_options job;
  ranking_options ranking;
  std::string biases = "joint";
  bool unweighted = false;
  int folds = 0;
  std::string save;
  bool json = false;
  bool quiet = false;
  std::string engine = "local";
  std::string nodes;     ///< --nodes host:port,...: the blocks on `recflow node` processes
  link_options link;     ///< --secret-file, --tls-*, --insecure: how the driver proves itself
  bool explain = false;  ///< --explain: print which node holds which blocks
  std::string metrics;   ///< --metrics HOST:PORT: /metrics and the dashboard while training
  http_access_options access;  ///< --metrics: token and Host allow-list
  double metrics_linger = 0;  ///< seconds to keep /metrics up after training
  serve::live_monitor* monitor = nullptr;  ///< with --metrics
  implicit_options implicit;  ///< --implicit and the options only it has
  std::optional<double> time_split;  ///< --time-split F: with --implicit, the latest F held out
};

/// `--metrics`: a monitor on a server of its own (no queries), for the run's length.
struct batch_metrics_server {
  serve::live_monitor monitor;
  std::unique_ptr<serve::http_server> server;  ///< after monitor: it serves it
};

result<std::unique_ptr<batch_metrics_server>> start_metrics(const batch_options& o,
                                                            const serve::http_options& http,
                                                            const char* command = "batch ALS") {
  auto m = std::make_unique<batch_metrics_server>();
  m->monitor.set_info("command", command);
  m->monitor.set_info("data", o.data.train.empty() ? o.data.data : o.data.train);
  m->monitor.set_info("rank", std::to_string(o.job.als.rank));
  m->monitor.set_info("engine", o.engine);
  auto server = serve::http_server::start_metrics(m->monitor, o.metrics, http);
  if (!server)
    return server.err();
  m->server = std::move(*server);
  return m;
}

/// --explain with --nodes: which node holds which blocks.
void explain(const batch_options& o) {
  if (o.explain && !o.job.nodes.empty())
    std::cout << explain_als_cluster({.nodes = o.job.nodes, .graph = o.job.graph}) << std::flush;
}

/// --metrics-linger: keeps /metrics up for a last scrape of the final numbers.
void linger(const batch_options& o, const batch_metrics_server* metrics) {
  if (metrics && o.metrics_linger > 0) {
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.metrics_linger));
  }
}

/// Where the model trains (--engine, --workers, --partitions, --nodes and the link
/// options), for explicit and implicit ALS alike.
result<void> parse_placement(batch_options& o) {
  if (o.engine != "local" && o.engine != "reference")
    return error{errc::invalid_argument, "--engine must be local or reference, got '" + o.engine + "'"};
  o.job.reference = o.engine == "reference";
  if (o.job.graph.partitions == 0)
    return error{errc::invalid_argument, "partition count must be positive, got 0"};
  if (o.job.graph.workers == 0)
    return error{errc::invalid_argument, "workers must be positive, got 0"};
  if (!o.nodes.empty()) {
    auto nodes = nodes_option(o.nodes, o.engine, o.link);
    if (!nodes)
      return nodes.err();
    o.job.nodes = std::move(nodes->nodes);
    o.job.secret = std::move(nodes->secret);
    o.job.tls = std::move(nodes->tls);
  }
  return {};
}

/// The choices spelled as words and the checks, in the order the command reports them.
result<void> parse_choices(batch_options& o) {
  auto& als = o.job.als;
  if (o.biases == "joint")
    als.biases = bias_mode::joint;
  else if (o.biases == "alternate")
    als.biases = bias_mode::alternate;
  else
    return error{errc::invalid_argument, "--biases must be joint or alternate, got '" + o.biases + "'"};
  als.weighted_lambda = !o.unweighted;
  if (auto ok = parse_placement(o); !ok)
    return ok;
  als.seed = o.data.seed;
  if (auto ok = validate(als); !ok)
    return ok;
  return validate(o.ranking);
}

/// Trains on `train` with a progress bar labelled `label`.
result<factor_model> train_with_progress(const batch_options& o, const rating_table& train,
                                         const std::string& label) {
  progress bar(label + "batch ALS", static_cast<std::uint64_t>(o.job.als.iterations),
               "iterations", !o.quiet);
  std::string note;
  auto model = train_als_job(train, o.job, [&](int it, double rmse) {
    note = fmt::format("train rmse {:.4f}", rmse);
    bar.update(static_cast<std::uint64_t>(it), note);
    if (o.monitor) {
      auto& r = o.monitor->registry();
      r.counter("recflow_als_sweeps_total", "ALS sweeps done (users then items)").add();
      r.gauge("recflow_als_train_rmse", "Training RMSE after the last ALS sweep").set(rmse);
      o.monitor->on_event("sweep", label + fmt::format("sweep {}: {}", it, note));
    }
  });
  bar.finish(note);
  return model;
}

/// k-fold cross-validation: a line per fold and the total; the summary's part.
result<nlohmann::json> run_folds(const batch_options& o, const loaded_data& data) {
  auto fit = [&](const rating_table& train, int f) {
    return train_with_progress(o, train, fmt::format("fold {}/{}: ", f + 1, o.folds));
  };
  auto cv = cross_validate(data.train, data.test, o.folds, o.data.seed, o.ranking, fit,
                           [&](int f, const error_metrics& m) {
                             std::cout << fmt::format("fold {}/{}  test rmse {:.4f}  mae {:.4f}  "
                                                      "({} ratings)\n",
                                                      f + 1, o.folds, m.rmse, m.mae, m.count);
                           },
                           thread_tasks(o.job.graph.workers));
  if (!cv)
    return cv.err();
  if (o.monitor)
    o.monitor->finish(cv->rmse, cv->mae);
  std::cout << fmt::format("{}-fold cross-validation: rmse {:.4f}  mae {:.4f}  {}\n", o.folds,
                           cv->rmse, cv->mae, ranking_text(cv->ranking));
  nlohmann::json per_fold = nlohmann::json::array();
  for (const auto& m : cv->folds)
    per_fold.push_back({{"rmse", m.rmse}, {"mae", m.mae}, {"test_ratings", m.count}});
  nlohmann::json summary = {{"rmse", cv->rmse}, {"mae", cv->mae}, {"folds", per_fold},
                            {"train_ratings", cv->train_ratings}, {"test_ratings", cv->test_ratings}};
  add_ranking_json(summary, cv->ranking);
  return summary;
}

/// One model on the training ratings, scored on the test ratings, saved; the summary's part.
result<nlohmann::json> run_once(const batch_options& o, const loaded_data& data) {
  const auto& als = o.job.als;
  auto model = train_with_progress(o, data.train, "");
  if (!model)
    return model.err();
  auto m = evaluate(*model, data.test);
  if (o.monitor) {
    o.monitor->set_baseline_rmse(m.rmse);
    o.monitor->finish(m.rmse, m.mae);
  }
  auto ranked = evaluate_ranking(*model, data.test, o.ranking, thread_tasks(o.job.graph.workers));
  std::cout << fmt::format("batch ALS on {}: rank {}, {} iterations, lambda {}\n", data.source,
                           als.rank, als.iterations, als.lambda);
  std::cout << fmt::format("test rmse {:.4f}  mae {:.4f}  ({} train / {} test ratings, "
                           "{} users, {} items)\ntest ranking {}\n",
                           m.rmse, m.mae, data.train.size(), m.count, model->n_users(),
                           model->n_items(), ranking_text(ranked));
  if (!o.save.empty()) {
    auto meta = als_metadata(als, data.source, o.biases, o.engine, m.rmse);
    if (auto saved = save_model(*model, o.save, meta); !saved)
      return saved.err();
    std::cout << "saved model to " << o.save << '\n';
  }
  nlohmann::json summary = {{"rmse", m.rmse}, {"mae", m.mae}, {"train_ratings", data.train.size()},
                            {"test_ratings", m.count}, {"users", model->n_users()},
                            {"items", model->n_items()}};
  add_ranking_json(summary, ranked);
  if (!o.save.empty())
    summary["model"] = o.save;
  return summary;
}

/// `--implicit`: what it does not support yet, then the run.
int run_implicit(batch_options& o, const CLI::App& cmd) {
  if (o.folds > 0)
    return report(error{errc::invalid_argument, "--folds is not supported with --implicit yet"});
  if (auto ok = parse_placement(o); !ok)
    return report(ok.err());
  serve::http_options http;
  if (auto ok = metrics_access(o.metrics, o.access, http); !ok)
    return report(ok.err());
  std::unique_ptr<batch_metrics_server> metrics;
  if (!o.metrics.empty()) {
    auto started = start_metrics(o, http, "batch implicit ALS");
    if (!started)
      return report(started.err());
    metrics = std::move(*started);
  }
  explain(o);
  o.implicit.job.where = o.job;
  int status = run_batch_implicit(
    o.implicit, {.data = o.data, .als = o.job.als, .cmd = cmd, .k = o.ranking.k, .save = o.save,
                 .json = o.json, .quiet = o.quiet, .time_split = o.time_split,
                 .workers = o.job.graph.workers, .monitor = metrics ? &metrics->monitor : nullptr});
  if (status == exit_ok)
    linger(o, metrics.get());
  return status;
}

int run_batch(batch_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  if (auto ok = parse_choices(o); !ok)
    return report(ok.err());
  serve::http_options http;
  if (auto ok = metrics_access(o.metrics, o.access, http); !ok)
    return report(ok.err());
  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  std::unique_ptr<batch_metrics_server> metrics;
  if (!o.metrics.empty()) {
    auto started = start_metrics(o, http);
    if (!started)
      return report(started.err());
    metrics = std::move(*started);
    o.monitor = &metrics->monitor;
  }
  explain(o);
  auto summary = o.folds > 0 ? run_folds(o, *data) : run_once(o, *data);
  if (!summary)
    return report(summary.err());
  auto& j = *summary;
  j["command"] = "batch";
  j["engine"] = o.engine;
  if (!o.job.nodes.empty())
    j["nodes"] = o.job.nodes.size();
  j["rank"] = o.job.als.rank;
  j["iterations"] = o.job.als.iterations;
  j["lambda"] = o.job.als.lambda;
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.json)
    print_json(j);
  linger(o, metrics.get());
  return exit_ok;
}

}  // namespace

void add_batch_command(CLI::App& app, int& exit_status) {
  auto opts = std::make_shared<batch_options>();
  auto* cmd = app.add_subcommand("batch", "Train batch ALS (as Spark's ALS.train), evaluate, save");
  opts->data.add_to(*cmd);
  auto& p = opts->job.als;
  cmd->add_option("--rank,-k", p.rank, "Factor dimension")->capture_default_str();
  cmd->add_option("--iterations", p.iterations, "ALS sweeps (users then items)")->capture_default_str();
  cmd->add_option("--lambda", p.lambda, "Factor regularisation")->capture_default_str();
  cmd->add_option("--lambda-bias", p.lambda_bias, "Bias regularisation")->capture_default_str();
  cmd->add_option("--lambda-exponent", p.lambda_exponent,
                  "Regularisation is lambda * n^exponent for an entity with n ratings "
                  "(1 is Spark's ALS-WR)")
    ->capture_default_str();
  cmd->add_flag("--unweighted", opts->unweighted,
                "Do not scale lambda by each entity's rating count at all");
  cmd->add_option("--biases", opts->biases, "joint (augmented factors) or alternate")
    ->capture_default_str();
  cmd->add_option("--init-stddev", p.init_stddev, "Stddev of the seeded initial factors")
    ->capture_default_str();
  add_ranking_options(*cmd, opts->ranking);
  opts->implicit.add_to(*cmd);
  cmd->add_option("--time-split", opts->time_split,
                  "With --implicit: hold out the latest F of the events by time (e.g. 0.2) "
                  "instead of each user's latest, and rank every item: precision, recall, NDCG "
                  "and MAP at k beside popularity");
  cmd->add_option("--engine", opts->engine,
                  "local (user and item blocks as actors, Spark's in/out blocks) or reference "
                  "(one thread); both give the same model (with --implicit too)")
    ->capture_default_str();
  cmd->add_option("--workers", opts->job.graph.workers,
                  "Actor scheduler threads (--engine local); threads of the final ranking")
    ->capture_default_str();
  cmd->add_option("--partitions", opts->job.graph.partitions, "Blocks per side (--engine local)")
    ->capture_default_str();
  cmd->add_option("--nodes", opts->nodes,
                  "Run the user and item blocks on these `recflow node` processes "
                  "(host:port,host:port,...; round robin); the driver keeps the coordinator");
  opts->link.add(*cmd);
  cmd->add_flag("--explain", opts->explain, "With --nodes: print which node holds which blocks");
  cmd->add_option("--folds", opts->folds, "Run k-fold cross-validation over all ratings instead");
  cmd->add_option("--save", opts->save, "Write the trained model to this file");
  cmd->add_flag("--json", opts->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", opts->quiet, "No per-iteration progress on stderr");
  cmd->add_option("--metrics", opts->metrics,
                  "HOST:PORT: serve GET /metrics (Prometheus) and the dashboard while training "
                  "(port 0: any free port; the address is printed on stderr)");
  cmd->add_option("--metrics-linger", opts->metrics_linger,
                  "With --metrics: seconds to keep serving them once training ends")
    ->capture_default_str();
  opts->access.add_to(*cmd);
  cmd->callback([opts, cmd, &exit_status] {
    if (opts->time_split && !opts->implicit.implicit) {
      exit_status = report(error{errc::invalid_argument, "--time-split is for batch --implicit"});
      return;
    }
    exit_status = opts->implicit.implicit ? run_implicit(*opts, *cmd) : run_batch(*opts);
  });
}

}  // namespace recflow::cli
