// `recflow stream` on a table in memory: hold out a validation set, stream the rest in
// micro-batches, print the validation RMSE after every batch, write it as CSV, save.
#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "cli/stream_options.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/engine/thread_tasks.hpp"
#include "recflow/job/stream_output.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow::cli {

namespace {

using clock_type = std::chrono::steady_clock;

/// "actor graph: 2 partitions (hash), 2 workers[, owners on N nodes ...]" or the reference.
std::string engine_text(const stream_options& o, const stream_job_options& job) {
  if (o.engine != "local")
    return "reference engine (one thread)";
  std::string nodes;
  if (const auto* n = std::get_if<on_nodes>(&job.where))
    nodes = fmt::format(", owners on {} nodes{}", n->nodes.size(),
                        n->recover ? fmt::format(" (recover: checkpoint every {} batches)",
                                                 n->checkpoint_every)
                                   : std::string());
  return fmt::format("actor graph: {} partitions ({}), {} workers{}", job.partitions,
                     o.partitioner, job.engine.workers, nodes);
}

/// The tables of --train/--data, shared with the job.
struct tables {
  std::shared_ptr<const rating_table> train, test;
  std::string source;  ///< what was read, for people
};

/// Streams the table on the actor graph or the reference loop: the reports and the model.
result<std::pair<std::vector<stream_report>, factor_model>> train(
  const stream_options& o, stream_job_options& job, const tables& data,
  std::shared_ptr<const factor_model> seed, const stream_callback& on_batch) {
  if (o.engine == "local") {
    auto partitioner = parse_partitioner_kind(o.partitioner);
    if (!partitioner)
      return partitioner.err();
    job.partitioner = *partitioner;
    job.seed_model = seed;
    auto run = run_stream_job(job, on_batch);
    if (!run)
      return run.err();
    return std::pair{std::move(run->reports), std::move(run->model)};
  }
  auto trainer = seed ? streaming_trainer::make(o.params, *seed)
                      : streaming_trainer::make(o.params, data.train->scale);
  if (!trainer)
    return trainer.err();
  auto run = stream_evaluate(*trainer, *data.train, *data.test, o.eval, on_batch);
  if (!run)
    return run.err();
  return std::pair{std::move(*run), std::move(trainer->model())};
}

/// The final lines, --save and --json.
int finish(const stream_options& o, const tables& data, const std::vector<stream_report>& reports,
           const factor_model& model, const stream_job_options& job, clock_type::time_point t0,
           stream_endpoints& ends) {
  stream_facts f{.data = data.source, .params = o.params, .batch_size = o.eval.batch_size,
                 .eval_every = o.eval.eval_every, .mode = o.mode, .engine = o.engine,
                 .init_model = o.init_model, .batches = reports.size(),
                 .train_ratings = data.train->size()};
  if (const auto* n = std::get_if<on_nodes>(&job.where))
    f.nodes = n->nodes.size();
  f.final_metrics = evaluate(model, *data.test);
  ends.finish_monitoring(f.final_metrics.rmse, f.final_metrics.mae);
  auto ranked = evaluate_ranking(model, *data.test, o.ranking, thread_tasks(job.engine.workers));
  f.timed = stream_timing(reports, o.params.passes);
  std::cout << fmt::format("final validation rmse {:.4f}  mae {:.4f} after {} batches "
                           "({} users, {} items; {:.0f} ratings x passes/s in updates)\n"
                           "final validation ranking {}\n",
                           f.final_metrics.rmse, f.final_metrics.mae, reports.size(),
                           model.n_users(), model.n_items(), f.timed->update_rate,
                           ranking_text(ranked));
  return save_and_summarize(o, model, f, t0, &ranked);
}

/// The stream of a table in memory (--train/--data without checkpoints).
int run_table(stream_options& o, stream_job_options job, std::shared_ptr<const factor_model> seed,
              clock_type::time_point t0) {
  auto loaded = load_data(o.data);
  if (!loaded)
    return report(loaded.err());
  const tables t{std::make_shared<const rating_table>(std::move(loaded->train)),
                 std::make_shared<const rating_table>(std::move(loaded->test)),
                 std::move(loaded->source)};
  job.input = table_input{t.train, o.eval.batch_size, o.eval.order, o.eval.order_seed};
  job.evaluation.validation = t.test;
  job.training = o.params;
  auto ends = start_stream_serving(o, job, t.train->scale, seed, t.source);
  if (!ends)
    return report(ends.err());
  std::optional<stream_csv> csv;
  if (!o.no_csv) {
    auto opened = stream_csv::open(o.csv);
    if (!opened)
      return report(opened.err());
    csv.emplace(std::move(*opened));
  }
  if (!o.quiet)
    std::cout << fmt::format("streaming {}: {} training ratings in batches of {}, {} validation "
                             "ratings, rank {}, {} pass(es), {}\n",
                             t.source, t.train->size(), o.eval.batch_size,
                             t.test->size(), o.params.rank, o.params.passes,
                             engine_text(o, job));
  // Per-batch lines go to stdout; when that is not a terminal (a file, a pipe), show
  // progress with rate and ETA on stderr instead.
  auto n_batches = (t.train->size() + o.eval.batch_size - 1) / o.eval.batch_size;
  if (o.eval.max_batches > 0)
    n_batches = std::min<std::size_t>(n_batches, o.eval.max_batches);
  progress bar("streaming", n_batches, "batches", !o.quiet && ::isatty(STDOUT_FILENO) != 1);
  std::string last_rmse;  // the progress line keeps the last evaluated rmse
  auto on_batch = [&](const stream_report& r) {
    if (ends->monitoring && o.engine != "local")  // the graph reports through job.on_metrics
      ends->monitoring->on_report(r);
    if (r.evaluated)
      last_rmse = fmt::format("rmse {:.4f}", r.rmse);
    bar.update(r.batch, last_rmse);
    if (csv)
      csv->write(r);
    if (!o.quiet)
      std::cout << fmt::format("batch {:>5}  ratings {:>9}  {}  ({:.2f} ms, {:.0f} ratings/s)\n",
                               r.batch, r.ratings_seen, error_text(r), r.batch_seconds * 1e3,
                               r.batch_seconds > 0 ? o.eval.batch_size / r.batch_seconds : 0.0);
  };
  auto run = train(o, job, t, seed, on_batch);
  if (!run)
    return report(run.err());
  auto& [reports, model] = *run;
  if (csv)
    csv->close();
  bar.finish();
  // Remember what each user rated, so that recommendations from the saved model skip it.
  model.rated() = rated_in_model(model, t.train->ratings, t.train->users, t.train->items);
  if (ends->serving)
    ends->serving->finish(model, reports.size(), reports.empty() ? 0 : reports.back().ratings_seen);
  if (int status = finish(o, t, reports, model, job, t0, *ends); status != exit_ok)
    return status;
  ends->linger(o.serve_linger);
  return exit_ok;
}

}  // namespace

int save_and_summarize(const stream_options& o, const factor_model& model, stream_facts& f,
                       std::chrono::steady_clock::time_point t0, const ranking_metrics* ranked) {
  if (!o.save.empty()) {
    if (auto saved = save_model(model, o.save, stream_metadata(f)); !saved)
      return report(saved.err());
    std::cout << "saved model to " << o.save << '\n';
    f.saved = o.save;
  }
  if (o.json) {
    if (!o.no_csv)
      f.csv = o.csv;
    f.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    auto j = stream_summary(f);
    if (ranked)
      add_ranking_json(j, *ranked);
    print_json(j);
  }
  return exit_ok;
}

result<stream_endpoints> start_endpoints(const stream_options& o, const endpoint_setup& e) {
  stream_endpoints ends;
  if (o.serve.empty() && o.metrics.empty())
    return ends;
  // Before any thread: with --serve, stream_serving takes the stop signals instead.
  ends.monitoring = stream_monitoring::make(o.serve.empty());
  ends.monitoring->monitor().set_info("data", e.what);
  if (e.describe)
    e.describe(*ends.monitoring);
  auto http = o.serving.http({});  // the address comes from --serve or --metrics
  if (!http)
    return http.err();
  if (!o.serve.empty()) {
    auto s = stream_serving::start(o.serve, o.serving.service(), *http, e.rank, e.scale, e.seed,
                                   &ends.monitoring->monitor(), e.metadata);
    if (!s)
      return s.err();
    auto priority = thread_priority::parse(o.training_nice);
    if (!priority)
      return priority.err();
    lower_thread_priority(*priority);  // this thread drives the stream and evaluates
    e.attach(**s, *priority);
    ends.serving = std::move(*s);
  }
  if (!o.metrics.empty())
    if (auto ok = ends.monitoring->listen(o.metrics, *http); !ok)
      return ok.err();
  return ends;
}

result<stream_endpoints> start_stream_serving(const stream_options& o, stream_job_options& job,
                                              rating_scale scale,
                                              std::shared_ptr<const factor_model> seed,
                                              const std::string& what) {
  endpoint_setup e{.what = what, .rank = o.params.rank, .scale = scale, .seed = std::move(seed)};
  e.describe = [&](stream_monitoring& m) {
    if (o.baseline_rmse > 0)
      m.monitor().set_baseline_rmse(o.baseline_rmse);
    m.attach(job);
  };
  e.attach = [&](stream_serving& s, thread_priority priority) {
    job.publish_interval = std::chrono::milliseconds(o.publish_interval_ms);
    job.engine.priority = priority;
    s.attach(job);
  };
  return start_endpoints(o, e);
}

int run_stream(stream_options& o) {
  auto t0 = clock_type::now();
  auto job = configure_stream(o);
  if (!job)
    return report(job.err());
  auto seed = load_stream_seed(o);
  if (!seed)
    return report(seed.err());
  if (o.sources.wanted())
    return run_stream_tracked(o, std::move(*job), *seed, t0);
  return run_table(o, std::move(*job), *seed, t0);
}

}  // namespace recflow::cli
