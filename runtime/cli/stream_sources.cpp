// `recflow stream --source SPEC`, `--checkpoint-dir DIR`, `--resume`: stream from a live
// source or with checkpoints on the actor graph, printing what `recflow stream` prints.
#include <iostream>

#include <fmt/format.h>

#include "cli/output.hpp"
#include "cli/redis_login_option.hpp"
#include "cli/stream_options.hpp"
#include "recflow/job/stream_output.hpp"
#include "recflow/model/metrics.hpp"

namespace recflow::cli {

void source_cli_options::add_to(CLI::App& cmd) {
  cmd.add_option("--source", source,
                 std::string("Stream from a live source instead of --train/--data: ") + source_grammar
                   + ". Validation ratings come from --test");
  cmd.add_option("--checkpoint-dir", checkpoint_dir,
                 "Write the model and the stream position it covers to this folder every "
                 "--checkpoint-every batches and at the end (atomic, checksummed)");
  cmd.add_option("--checkpoint-every", checkpoint_every, "Batches between checkpoints")
    ->capture_default_str();
  cmd.add_option("--checkpoint-keep", checkpoint_keep, "Newest checkpoints kept")
    ->capture_default_str();
  cmd.add_flag("--resume", resume,
               "Continue from the newest good checkpoint in --checkpoint-dir (a corrupt one is "
               "reported and the previous one used); the source continues after its position");
  cmd.add_option("--batch-interval", spec.batch_interval,
                 "Seconds per batch besides --batch-size: wall time for redis:// and tcp:// "
                 "(from a batch's first rating), event time for replay: (0: by count only)")
    ->capture_default_str();
  cmd.add_option("--idle-timeout", spec.idle_timeout,
                 "redis://: end the stream after this many seconds without an entry (0: run "
                 "until the end key, --redis-eos-key, that `recflow publish` sets)")
    ->capture_default_str();
  cmd.add_option("--replay-speed", spec.replay_speed,
                 "replay:: event seconds per wall second (86400 = a day per second; 0: no pacing)")
    ->capture_default_str();
  cmd.add_option("--redis-group", spec.redis_group, "redis://: consumer group")->capture_default_str();
  cmd.add_option("--redis-consumer", spec.redis_consumer, "redis://: consumer name in the group")
    ->capture_default_str();
  add_redis_login_options(cmd, spec.redis_user, spec.redis_password_file);
  cmd.add_option("--redis-eos-key", spec.redis_eos_key,
                 "redis://: the control key whose existence ends the stream once every entry "
                 "is read (default STREAM:eos, set by `recflow publish`); an entry with a "
                 "field eos is a dead letter");
  cmd.add_option("--redis-reconnect-limit", spec.redis_reconnect_limit,
                 "redis://: seconds to keep connecting again after the connection dropped "
                 "(pauses of 50 ms doubling to 2 s; 0: fail at once)")
    ->capture_default_str();
  cmd.add_option("--redis-claim-idle", spec.redis_claim_idle,
                 "redis://: take over entries other consumers of the group left pending this "
                 "many seconds (XAUTOCLAIM) and train on them once (0: never)")
    ->capture_default_str();
  cmd.add_option("--redis-dead-letter-max", spec.redis_dead_letter_max,
                 "redis://: keep about this many entries in the dead-letter stream STREAM:dead "
                 "(XADD MAXLEN ~; 0: no cap)")
    ->capture_default_str();
  cmd.add_option("--tcp-max-line", spec.tcp_max_line,
                 "tcp://: longest line in bytes; a longer one is a dead letter (its bytes are dropped)")
    ->capture_default_str();
  cmd.add_option("--tcp-connect-timeout", spec.tcp_connect_timeout,
                 "tcp://: seconds to connect before failing")
    ->capture_default_str();
  cmd.add_option("--tcp-read-timeout", spec.tcp_read_timeout,
                 "tcp://: fail after this many seconds without data from the peer (0: wait for ever)")
    ->capture_default_str();
}


namespace {

using clock_type = std::chrono::steady_clock;

/// The input of a tracked run, the server beside it and what the final lines report.
struct tracked_input {
  std::string what;  ///< what is streamed, for people
  std::shared_ptr<dead_letters> dead = std::make_shared<dead_letters>();
  stream_endpoints ends;
};

/// Sets the job's input and validation set from --train/--data or --source and --test,
/// and starts serving once the scale is known and before any source thread (the stop
/// signals are blocked in the threads started after it).
result<tracked_input> open_input(const stream_options& o, stream_job_options& job,
                                 std::shared_ptr<const factor_model> seed) {
  const auto& s = o.sources;
  auto ingest = make_ingest_options(o.data);
  if (!ingest)
    return ingest.err();
  tracked_input in;
  auto serve = [&](rating_scale scale) -> result<void> {
    auto started = start_stream_serving(o, job, scale, seed, s.source.empty() ? in.what : s.source);
    if (!started)
      return started.err();
    in.ends = std::move(*started);
    return {};
  };
  if (s.source.empty()) {  // --train/--data as `recflow stream` reads them, in memory
    auto data = load_data(o.data);
    if (!data)
      return data.err();
    in.what = data->source;
    auto train = std::make_shared<const rating_table>(std::move(data->train));
    job.input = table_input{train, o.eval.batch_size, o.eval.order, o.eval.order_seed};
    job.evaluation.validation = std::make_shared<const rating_table>(std::move(data->test));
    if (auto ok = serve(train->scale); !ok)
      return ok.err();
    return in;
  }
  if (!o.data.train.empty() || !o.data.data.empty())
    return error{errc::invalid_argument, "--source replaces --train and --data (keep --test)"};
  rating_scale scale{0.5, 5.0};
  if (!o.data.test.empty()) {
    auto test = read_ratings(o.data.test, *ingest);
    if (!test)
      return test.err();
    scale = test->scale;
    job.evaluation.validation = std::make_shared<const rating_table>(std::move(*test));
  }
  if (ingest->scale)
    scale = *ingest->scale;
  if (auto ok = serve(scale); !ok)
    return ok.err();
  auto spec = s.spec;
  spec.batch_size = o.eval.batch_size;
  auto src = open_source(s.source, spec, *ingest, scale, in.dead);
  if (!src)
    return src.err();
  if (in.ends.monitoring)  // a broker's backlog on /metrics and the page
    in.ends.monitoring->watch_source(*src);
  job.input = source_input{std::move(*src), scale};
  in.what = s.source;
  return in;
}

/// "streaming WHAT: batches of ..., actor graph: ..." before the first batch.
std::string start_line(const stream_options& o, const stream_job_options& job,
                       const tracked_input& in) {
  const auto& v = job.evaluation.validation;
  std::string nodes;
  if (const auto* n = std::get_if<on_nodes>(&job.where))
    nodes = fmt::format(", owners on {} nodes{}", n->nodes.size(), n->recover ? " (recover)" : "");
  return fmt::format("streaming {}: batches of {}, {} validation ratings, rank {}, {} "
                     "pass(es), actor graph: {} partitions ({}), {} workers{}{}\n",
                     in.what, o.eval.batch_size, v ? v->size() : 0, o.params.rank,
                     o.params.passes, job.partitions, o.partitioner, job.engine.workers, nodes,
                     o.sources.checkpoint_dir.empty()
                       ? std::string()
                       : fmt::format(", checkpoints every {} batches in {}",
                                     o.sources.checkpoint_every, o.sources.checkpoint_dir));
}

/// The final lines, --save and --json.
int finish(const stream_options& o, const stream_job_options& job, tracked_input& in,
           const stream_job_result& run, clock_type::time_point t0) {
  const auto& v = job.evaluation.validation;
  stream_facts f{.data = in.what, .params = o.params, .batch_size = o.eval.batch_size,
                 .eval_every = o.eval.eval_every, .batches = run.mark.batches,
                 .train_ratings = run.mark.ratings,
                 .tracked = stream_facts::tracked_run{&run, in.dead->count()}};
  if (v)
    f.final_metrics = evaluate(run.model, *v);
  in.ends.finish_monitoring(v ? std::optional(f.final_metrics.rmse) : std::nullopt,
                            v ? std::optional(f.final_metrics.mae) : std::nullopt);
  std::cout << fmt::format("{} after {} batches, {} ratings applied ({} users, {} items)\n",
                           v ? fmt::format("final validation rmse {:.4f}  mae {:.4f}",
                                           f.final_metrics.rmse, f.final_metrics.mae)
                             : std::string("final model (no --test to validate on)"),
                           run.mark.batches, run.mark.ratings, run.model.n_users(),
                           run.model.n_items());
  if (run.added_ratings > 0)  // not in the mark: a resume continues the source after its own
    std::cout << fmt::format("posted ratings: {} trained on in this run\n", run.added_ratings);
  if (in.dead->count() > 0) {
    std::cout << fmt::format("dead letters: {} record(s) skipped\n", in.dead->count());
    for (const auto& r : in.dead->first_reasons())
      std::cout << "  " << r << '\n';
  }
  if (!run.checkpoints_written.empty())
    std::cout << fmt::format("checkpoint {} (position '{}')\n", run.checkpoints_written.back(),
                             run.mark.position);
  return save_and_summarize(o, run.model, f, t0);
}

}  // namespace

int run_stream_tracked(const stream_options& o, stream_job_options job,
                       std::shared_ptr<const factor_model> seed, clock_type::time_point t0) {
  const auto& s = o.sources;
  if (o.engine != "local")
    return report({errc::invalid_argument,
                   "--source, --checkpoint-dir and --resume run on the actor graph (--engine local)"});
  if (o.params.mode != update_mode::batch_gradient)
    return report({errc::invalid_argument, "--source and checkpoints need --mode batch-gradient"});
  if (s.resume && s.checkpoint_dir.empty())
    return report({errc::invalid_argument, "--resume needs --checkpoint-dir"});
  auto in = open_input(o, job, seed);
  if (!in)
    return report(in.err());
  std::optional<stream_csv> csv;
  if (!o.no_csv) {  // a resumed run goes on with the CSV of the run it continues
    auto opened = stream_csv::open(o.csv, s.resume);
    if (!opened)
      return report(opened.err());
    csv.emplace(std::move(*opened));
  }
  if (!o.quiet)
    std::cout << start_line(o, job, *in);
  auto on_batch = [&](const stream_report& r) {
    if (csv)
      csv->write(r);
    if (!o.quiet)
      std::cout << fmt::format("batch {:>5}  ratings {:>9}  {}  ({:.2f} ms)\n", r.batch,
                               r.ratings_seen, error_text(r), r.batch_seconds * 1e3)
                << std::flush;
  };
  auto on_note = [](const std::string& n) { std::cerr << "recflow: " << n << '\n'; };
  job.training = o.params;
  job.seed_model = seed;
  job.checkpoints = {s.checkpoint_dir, s.checkpoint_every, s.checkpoint_keep};
  job.resume = s.resume;
  auto partitioner = parse_partitioner_kind(o.partitioner);
  if (!partitioner)
    return report(partitioner.err());
  job.partitioner = *partitioner;
  auto run = run_stream_job(job, on_batch, on_note);
  if (!run)
    return report(run.err());
  if (csv)
    csv->close();
  if (in->ends.serving)  // the final model, with what each user rated in the batches streamed
    in->ends.serving->finish_indexed(run->model, run->mark.batches);
  if (int status = finish(o, job, *in, *run, t0); status != exit_ok)
    return status;
  in->ends.linger(o.serve_linger);
  return exit_ok;
}

}  // namespace recflow::cli
