// `recflow stream`: the streaming protocol. Hold out a validation set, stream the rest in
// micro-batches, print the validation RMSE after every batch, write it as CSV, save.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/nodes_option.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "cli/stream_sources.hpp"
#include "cli/stream_lines.hpp"
#include "cli/stream_serving.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/engine/run_stream.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow::cli {

namespace {

/// The median of `v` (0 when empty); reorders v.
double median(std::vector<double>& v) {
  if (v.empty())
    return 0.0;
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

struct stream_options {
  data_options data;
  stream_params params;
  stream_eval_options eval;
  ranking_options ranking;
  std::string order = "random";
  std::string mode = "batch-gradient";
  std::string init_model;
  std::string engine = "local";
  bool engine_given = false;  ///< --engine was on the command line or in the config
  bool rank_given = false;    ///< --rank was given (else a seed model's rank is taken)
  local_stream_options local;
  std::string nodes;     ///< --nodes host:port,...: run the owners on `recflow node` processes
  bool explain = false;  ///< --explain: print which node owns which shards
  std::string csv = "recflow-stream.csv";
  bool no_csv = false;
  std::string save;
  bool json = false;
  bool quiet = false;
  source_cli_options sources;  ///< --source, --checkpoint-dir, --resume (stream_sources.hpp)
  std::string serve;          ///< HOST:PORT: serve queries while training
  double serve_linger = -1;   ///< seconds to serve the final model; negative: until a signal
  /// With --serve: publish a model at most every this many ms (0: every batch).
  std::int64_t publish_interval_ms = local_stream_options{}.publish_interval.count();
  /// With --serve: the priority of the training threads, "idle" or a nice value 0..19
  /// (queries come first; engine/thread_priority.hpp).
  std::string training_nice = "idle";
  serve_tuning serving;
};

int run_stream(stream_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  if (o.order == "random")
    o.eval.order = stream_order::random;
  else if (o.order == "time")
    o.eval.order = stream_order::time;
  else
    return report({errc::invalid_argument, "--order must be random or time, got '" + o.order + "'"});
  if (o.mode == "batch-gradient")
    o.params.mode = update_mode::batch_gradient;
  else if (o.mode == "sgd")
    o.params.mode = update_mode::sgd;
  else
    return report({errc::invalid_argument, "--mode must be batch-gradient or sgd, got '" + o.mode + "'"});
  if (o.engine != "local" && o.engine != "reference")
    return report({errc::invalid_argument, "--engine must be local or reference, got '" + o.engine + "'"});
  // The graph runs batch-gradient steps only: without an explicit --engine, --mode sgd
  // selects the reference loop.
  if (!o.engine_given && o.params.mode != update_mode::batch_gradient)
    o.engine = "reference";
  if (o.engine == "local" && o.params.mode != update_mode::batch_gradient)
    return report({errc::invalid_argument,
                   "--mode sgd is sequential by nature: run it with --engine reference"});
  if (auto ok = validate(o.local.engine); !ok)
    return report(ok.err());
  if (!o.nodes.empty()) {
    auto nodes = nodes_option(o.nodes, o.engine);
    if (!nodes)
      return report(nodes.err());
    o.local.nodes = std::move(*nodes);
    if (o.explain)
      o.local.on_placement = [](const std::string& text) { std::cout << text << std::flush; };
    o.local.checkpoint_every = o.sources.checkpoint_every;
    o.local.on_event = [](const std::string& line) {
      std::cout << std::flush;
      std::cerr << "recflow: " << line << std::endl;
    };
  }
  if (o.local.recover && o.nodes.empty())
    return report({errc::invalid_argument, "--recover needs --nodes"});
  if (o.local.recover && o.sources.checkpoint_every == 0)
    return report({errc::invalid_argument, "checkpoint interval must be positive, got 0"});
  if (o.local.partitions == 0)
    return report({errc::invalid_argument, "partition count must be positive, got 0"});
  // A seed model (a trained model the stream continues from) sets the rank unless --rank
  // says otherwise (then a mismatch is an error naming both ranks).
  std::shared_ptr<const factor_model> seed;
  if (!o.init_model.empty()) {
    auto loaded = load_model(o.init_model);
    if (!loaded)
      return report(loaded.err());
    seed = std::make_shared<const factor_model>(std::move(*loaded));
    if (!o.rank_given)
      o.params.rank = seed->rank();
  }
  o.params.seed = o.data.seed;
  o.eval.order_seed = o.data.seed;
  if (auto ok = validate(o.params); !ok)
    return report(ok.err());
  if (auto ok = validate(o.eval); !ok)
    return report(ok.err());
  if (auto ok = validate(o.ranking); !ok)
    return report(ok.err());

  if (!o.serve.empty() && o.engine != "local")
    return report({errc::invalid_argument, "--serve needs --engine local (the actor graph)"});
  if (!o.serve.empty() && !o.nodes.empty())
    return report({errc::invalid_argument,
                   "--serve runs on the local engine: not with --nodes (queries would need "
                   "the model from the nodes)"});
  if (!o.sources.source.empty() && !o.local.nodes.empty())
    return report({errc::invalid_argument,
                   "--source runs on the local engine only, not with --nodes yet (--train/--data "
                   "with --checkpoint-dir and --resume do)"});
  if (o.sources.wanted()) {
    stream_serve_settings serve{o.serve, o.serving, std::chrono::milliseconds(o.publish_interval_ms),
                                o.training_nice, o.serve_linger};
    return run_stream_from_source(o.sources, {o.data, o.params, o.eval, o.local, o.engine, o.csv,
                                              o.no_csv, o.save, o.json, o.quiet, seed,
                                              o.serve.empty() ? nullptr : &serve});
  }

  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  std::unique_ptr<stream_serving> serving;
  if (!o.serve.empty()) {
    auto s = stream_serving::start(o.serve, o.serving, o.params.rank, data->train.scale, seed);
    if (!s)
      return report(s.err());
    serving = std::move(*s);
    o.local.publish_interval = std::chrono::milliseconds(o.publish_interval_ms);
    auto priority = thread_priority::parse(o.training_nice);
    if (!priority)
      return report(priority.err());
    o.local.engine.priority = *priority;
    lower_thread_priority(*priority);  // this thread drives the stream and evaluates
    serving->attach(o.local);
  }

  std::ofstream csv;
  if (!o.no_csv) {
    csv.open(o.csv);
    if (!csv)
      return report({errc::io, o.csv + ": cannot write the per-batch CSV"});
    csv << stream_csv_header;
  }
  if (!o.quiet)
    std::cout << fmt::format("streaming {}: {} training ratings in batches of {}, {} validation "
                             "ratings, rank {}, {} pass(es), {}\n",
                             data->source, data->train.size(), o.eval.batch_size,
                             data->test.size(), o.params.rank, o.params.passes,
                             o.engine == "local"
                               ? fmt::format("actor graph: {} partitions ({}), {} workers{}",
                                             o.local.partitions, o.local.partitioner,
                                             o.local.engine.workers,
                                             o.local.nodes.empty()
                                               ? std::string()
                                               : fmt::format(", owners on {} nodes{}",
                                                             o.local.nodes.size(),
                                                             o.local.recover
                                                               ? fmt::format(
                                                                   " (recover: checkpoint every "
                                                                   "{} batches)",
                                                                   o.local.checkpoint_every)
                                                               : std::string()))
                               : std::string("reference engine (one thread)"));
  // Per-batch lines go to stdout; when that is not a terminal (a file, a pipe), show
  // progress with rate and ETA on stderr instead.
  auto n_batches = (data->train.size() + o.eval.batch_size - 1) / o.eval.batch_size;
  if (o.eval.max_batches > 0)
    n_batches = std::min<std::size_t>(n_batches, o.eval.max_batches);
  progress bar("streaming", n_batches, "batches", !o.quiet && ::isatty(STDOUT_FILENO) != 1);
  std::string last_rmse;  // the progress line keeps the last evaluated rmse
  auto on_batch = [&](const stream_report& r) {
    if (r.evaluated)
      last_rmse = fmt::format("rmse {:.4f}", r.rmse);
    bar.update(r.batch, last_rmse);
    if (csv.is_open())
      csv << csv_row(r);
    if (!o.quiet)
      std::cout << fmt::format("batch {:>5}  ratings {:>9}  {}  ({:.2f} ms, {:.0f} ratings/s)\n",
                               r.batch, r.ratings_seen, error_text(r), r.batch_seconds * 1e3,
                               r.batch_seconds > 0 ? o.eval.batch_size / r.batch_seconds : 0.0);
  };
  // The model and the per-batch reports, from the actor graph or the reference loop.
  std::vector<stream_report> reports;
  factor_model model;
  if (o.engine == "local") {
    o.local.seed_model = seed;
    auto run = run_stream(o.params, data->train, data->test, o.eval, o.local, on_batch);
    if (!run)
      return report(run.err());
    reports = std::move(run->reports);
    model = std::move(run->model);
  } else {
    auto trainer = [&]() -> result<streaming_trainer> {
      if (!seed)
        return streaming_trainer::make(o.params, data->train.scale);
      return streaming_trainer::make(o.params, *seed);
    }();
    if (!trainer)
      return report(trainer.err());
    auto run = stream_evaluate(*trainer, data->train, data->test, o.eval, on_batch);
    if (!run)
      return report(run.err());
    reports = std::move(*run);
    model = std::move(trainer->model());
  }
  csv.close();
  bar.finish();

  // Remember what each user rated, so that recommendations from the saved model skip it.
  model.rated() = rated_in_model(model, data->train.ratings, data->train.users, data->train.items);
  if (serving)
    serving->finish(model, reports.size(), reports.empty() ? 0 : reports.back().ratings_seen);
  auto final_metrics = evaluate(model, data->test);
  auto ranked = evaluate_ranking(model, data->test, o.ranking);
  double update_seconds = 0.0;
  std::vector<double> batch_seconds;
  for (const auto& r : reports) {
    update_seconds += r.batch_seconds;
    batch_seconds.push_back(r.batch_seconds);
  }
  const double update_rate = update_seconds > 0 && !reports.empty()
                               ? static_cast<double>(reports.back().ratings_seen)
                                   * o.params.passes / update_seconds
                               : 0.0;
  std::cout << fmt::format("final validation rmse {:.4f}  mae {:.4f} after {} batches "
                           "({} users, {} items; {:.0f} ratings x passes/s in updates)\n"
                           "final validation ranking {}\n",
                           final_metrics.rmse, final_metrics.mae, reports.size(),
                           model.n_users(), model.n_items(), update_rate,
                           ranking_text(ranked));
  if (!o.save.empty()) {
    model_metadata meta;
    meta.set("trainer", "stream");
    meta.set("recflow_version", RECFLOW_VERSION);
    meta.set("data", data->source);
    meta.set("mode", o.mode);
    meta.set("engine", o.engine);
    meta.set("rank", std::to_string(o.params.rank));
    meta.set("passes", std::to_string(o.params.passes));
    meta.set("gamma", fmt::format("{}", o.params.gamma));
    meta.set("gamma_bias", fmt::format("{}", o.params.gamma_bias));
    meta.set("lambda", fmt::format("{}", o.params.lambda));
    meta.set("lambda_bias", fmt::format("{}", o.params.lambda_bias));
    meta.set("max_step", fmt::format("{}", o.params.max_step));
    meta.set("batch_size", std::to_string(o.eval.batch_size));
    meta.set("batches", std::to_string(reports.size()));
    meta.set("seed", std::to_string(o.params.seed));
    meta.set("validation_rmse", fmt::format("{:.6f}", final_metrics.rmse));
    if (!o.init_model.empty())
      meta.set("init_model", o.init_model);
    if (auto saved = save_model(model, o.save, meta); !saved)
      return report(saved.err());
    std::cout << "saved model to " << o.save << '\n';
  }
  if (o.json) {
    nlohmann::json j{{"command", "stream"},
                     {"rmse", final_metrics.rmse},
                     {"mae", final_metrics.mae},
                     {"train_ratings", data->train.size()},
                     {"test_ratings", final_metrics.count},
                     {"batches", reports.size()},
                     {"batch_size", o.eval.batch_size},
                     {"eval_every", o.eval.eval_every},
                     {"passes", o.params.passes},
                     {"rank", o.params.rank},
                     {"engine", o.engine},
                     {"nodes", o.local.nodes.size()},
                     {"per_batch_csv", o.no_csv ? nlohmann::json() : nlohmann::json(o.csv)},
                     // The stream's wall time (updates and evaluations, not loading or the
                     // final ranking), the final line's updates rate, the median batch.
                     {"stream_seconds", reports.empty() ? 0.0 : reports.back().elapsed_seconds},
                     {"update_rate", update_rate},
                     {"median_batch_seconds", median(batch_seconds)},
                     {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
    if (!o.save.empty())
      j["model"] = o.save;
    add_ranking_json(j, ranked);
    print_json(j);
  }
  if (serving)
    serving->linger(o.serve_linger);
  return exit_ok;
}

}  // namespace

void add_stream_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<stream_options>();
  auto* cmd = app.add_subcommand(
    "stream", "Stream ratings in micro-batches, printing validation RMSE after each batch");
  o->data.add_to(*cmd);
  auto& p = o->params;
  auto* rank = cmd->add_option("--rank,-k", p.rank,
                               "Factor dimension (with --init-model: the model's, unless given)");
  rank->capture_default_str();
  cmd->add_option("--batch-size", o->eval.batch_size, "Ratings per micro-batch")->capture_default_str();
  cmd->add_option("--passes", p.passes, "Passes over each micro-batch")->capture_default_str();
  cmd->add_option("--order", o->order, "random (seeded) or time (by timestamp)")->capture_default_str();
  cmd->add_option("--mode", o->mode,
                  "batch-gradient (errors from one snapshot, gradients summed per key and "
                  "applied once) or sgd (classic per-rating B-SGD)")
    ->capture_default_str();
  cmd->add_option("--gamma", p.gamma, "Learning rate of the factors")->capture_default_str();
  cmd->add_option("--gamma-bias", p.gamma_bias, "Learning rate of the biases")->capture_default_str();
  cmd->add_option("--lambda", p.lambda, "Regularisation of the factors")->capture_default_str();
  cmd->add_option("--lambda-bias", p.lambda_bias, "Regularisation of the biases")->capture_default_str();
  cmd->add_option("--max-step", p.max_step,
                  "batch-gradient: a key with n ratings in a batch steps at most max-step times "
                  "its mean gradient (0: no cap)")
    ->capture_default_str();
  cmd->add_option("--init-stddev", p.init_stddev, "Stddev of the seeded initial factors")
    ->capture_default_str();
  cmd->add_option("--init-model", o->init_model,
                  "Start from a saved model (e.g. from `recflow batch --save`); its rank is "
                  "used unless --rank is given");
  add_ranking_options(*cmd, o->ranking);
  auto* engine = cmd->add_option("--engine", o->engine,
                                 "local (the actor dataflow graph) or reference (the "
                                 "single-threaded loop); both give the same model. Default "
                                 "local, or reference with --mode sgd");
  engine->capture_default_str();
  cmd->add_option("--workers", o->local.engine.workers, "Actor scheduler threads (--engine local)")
    ->capture_default_str();
  cmd->add_option("--partitions", o->local.partitions,
                  "Shards of the user and of the item factors (--engine local)")
    ->capture_default_str();
  cmd->add_option("--max-in-flight", o->local.engine.max_in_flight,
                  "Batches between the source and completion (--engine local): more overlap "
                  "batches, 1 gives each batch the graph alone")
    ->capture_default_str();
  cmd->add_option("--partitioner", o->local.partitioner,
                  "How keys map to shards: hash, modulo, range, random, degree or consistent "
                  "(--engine local; range and degree are fitted to the training ratings)")
    ->capture_default_str();
  cmd->add_option("--nodes", o->nodes,
                  "Run the factor owners on these `recflow node` processes "
                  "(host:port,host:port,...; round robin); the driver keeps the source");
  cmd->add_flag("--explain", o->explain, "With --nodes: print which node owns which shards");
  cmd->add_flag("--recover", o->local.recover,
                "With --nodes: when a node is lost, restore every owner from the last checkpoint "
                "(kept in memory every --checkpoint-every batches) onto the surviving nodes and "
                "replay the batches since; the model is the failure-free run's");
  cmd->add_option("--max-batches", o->eval.max_batches, "Stop after this many batches (0: all)");
  cmd->add_option("--eval-every", o->eval.eval_every,
                  "Evaluate on the validation set after every N-th batch (1: after every "
                  "batch, as the original design plots it; larger: less time evaluating on "
                  "long streams). The final line always evaluates the final model")
    ->capture_default_str();
  cmd->add_option("--csv", o->csv, "Per-batch CSV of validation RMSE")->capture_default_str();
  cmd->add_flag("--no-csv", o->no_csv, "Do not write the per-batch CSV");
  cmd->add_option("--save", o->save, "Write the final model to this file");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", o->quiet, "Only the final line (and the JSON summary)");
  o->sources.add_to(*cmd);
  cmd->add_option("--serve", o->serve,
                  "HOST:PORT: answer HTTP/JSON queries from the model as it trains (port 0: any "
                  "free port; the address is printed on stderr)");
  cmd->add_option("--serve-linger", o->serve_linger,
                  "With --serve: seconds to keep serving the final model once the stream ends "
                  "(negative: until SIGINT/SIGTERM)")
    ->capture_default_str();
  cmd->add_option("--publish-interval", o->publish_interval_ms,
                  "With --serve: publish the model to queries at most every MS milliseconds "
                  "(0: after every batch); the final model is always published")
    ->check(CLI::Range(std::int64_t(0), std::int64_t(3'600'000)))
    ->capture_default_str();
  cmd->add_option("--training-nice", o->training_nice,
                  "With --serve: priority of the training threads, so queries get a core "
                  "first: idle (SCHED_IDLE: a query preempts training at once; training gets "
                  "only CPU nothing else wants) or a nice value 0..19 (0: unchanged)")
    ->check([](const std::string& v) {
      auto p = thread_priority::parse(v);
      return p ? std::string() : p.err().message;
    })
    ->capture_default_str();
  o->serving.add_to(*cmd);
  cmd->callback([o, engine, rank, &exit_status] {
    o->engine_given = engine->count() > 0;
    o->rank_given = rank->count() > 0;
    exit_status = run_stream(*o);
  });
}

}  // namespace recflow::cli
