// `recflow stream`: the options of the streaming protocol; stream_run.cpp runs it. Hold out
// a validation set, stream the rest in micro-batches, print the validation RMSE after
// every batch, write it as CSV, save.
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/ranking_output.hpp"
#include "cli/stream_options.hpp"
#include "recflow/engine/thread_priority.hpp"

namespace recflow::cli {

namespace {

/// --serve and what goes with it.
void add_serve_options(CLI::App& cmd, stream_options& o) {
  cmd.add_option("--serve", o.serve,
                 "HOST:PORT: answer HTTP/JSON queries from the model as it trains (port 0: any "
                 "free port; the address is printed on stderr)");
  cmd.add_option("--serve-linger", o.serve_linger,
                 "With --serve or --metrics: seconds to keep serving the final model (and the "
                 "metrics) once the stream ends (negative: until SIGINT/SIGTERM)")
    ->capture_default_str();
  cmd.add_option("--publish-interval", o.publish_interval_ms,
                 "With --serve: publish the model to queries at most every MS milliseconds "
                 "(0: after every batch); the final model is always published")
    ->check(CLI::Range(std::int64_t(0), std::int64_t(3'600'000)))
    ->capture_default_str();
  cmd.add_option("--training-nice", o.training_nice,
                 "With --serve: priority of the training threads, so queries get a core "
                 "first: idle (SCHED_IDLE: a query preempts training at once; training gets "
                 "only CPU nothing else wants) or a nice value 0..19 (0: unchanged)")
    ->check([](const std::string& v) {
      auto p = thread_priority::parse(v);
      return p ? std::string() : p.err().message;
    })
    ->capture_default_str();
  o.serving.add_to(cmd);
  cmd.add_option("--metrics", o.metrics,
                 "HOST:PORT: serve only GET /metrics (Prometheus) and the live dashboard (GET /) "
                 "while training (port 0: any free port; the address is printed on stderr). "
                 "--serve's server answers both too");
  cmd.add_option("--baseline-rmse", o.baseline_rmse,
                 "The batch ALS validation RMSE to draw on the dashboard's error chart (0: none)");
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
  cmd->add_option("--workers", o->engine_opts.workers,
                  "Actor scheduler threads (--engine local); threads of the final ranking")
    ->capture_default_str();
  cmd->add_option("--partitions", o->partitions,
                  "Shards of the user and of the item factors (--engine local)")
    ->capture_default_str();
  cmd->add_option("--max-in-flight", o->engine_opts.max_in_flight,
                  "Batches between the source and completion (--engine local): more overlap "
                  "batches, 1 gives each batch the graph alone")
    ->capture_default_str();
  cmd->add_option("--partitioner", o->partitioner,
                  "How keys map to shards: hash, modulo, range, random, degree or consistent "
                  "(--engine local; range and degree are fitted to the training ratings)")
    ->capture_default_str();
  cmd->add_option("--nodes", o->nodes,
                  "Run the factor owners on these `recflow node` processes "
                  "(host:port,host:port,...; round robin); the driver keeps the source");
  o->link.add(*cmd);
  cmd->add_flag("--explain", o->explain, "With --nodes: print which node owns which shards");
  cmd->add_flag("--recover", o->recover,
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
  add_serve_options(*cmd, *o);
  o->implicit.add_to(*cmd, "Implicit feedback: stream events 'user item [weight] [timestamp]' "
                           "(each user's latest held out), re-solving each batch's users and "
                           "items as implicit ALS does, and score the held-out events against "
                           "sampled items (HR@k, NDCG@k) after every batch beside item "
                           "popularity");
  cmd->add_option("--refresh-every", o->refresh_every,
                  "With --implicit: every user and item is also re-solved once every this many "
                  "batches, events or not (0: only each batch's own)")
    ->capture_default_str();
  cmd->callback([o, engine, rank, cmd, &exit_status] {
    o->engine_given = engine->count() > 0;
    o->rank_given = rank->count() > 0;
    if (!o->implicit.implicit) {  // the implicit options alone would be silently ignored
      auto names = implicit_options::option_names();
      names.push_back("--refresh-every");
      for (const auto& name : names)
        if (cmd->count(name) > 0) {
          exit_status = report(error{errc::invalid_argument, name + " is for stream --implicit"});
          return;
        }
    }
    exit_status = o->implicit.implicit ? run_stream_implicit(*o, *cmd) : run_stream(*o);
  });
}

}  // namespace recflow::cli
