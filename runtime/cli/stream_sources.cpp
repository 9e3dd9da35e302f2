// `recflow stream --source SPEC`, `--checkpoint-dir DIR`, `--resume`: stream from a live
// source or with checkpoints on the actor graph, printing what `recflow stream` prints.
#include "cli/stream_sources.hpp"

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/output.hpp"
#include "cli/stream_lines.hpp"
#include "cli/stream_serving.hpp"
#include "recflow/engine/source_stream.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/split.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_source.hpp"
#include "recflow/sources/replay_source.hpp"
#include "recflow/sources/socket_source.hpp"

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
  cmd.add_option("--batch-interval", batch_interval,
                 "Seconds per batch besides --batch-size: wall time for redis:// and tcp:// "
                 "(from a batch's first rating), event time for replay: (0: by count only)")
    ->capture_default_str();
  cmd.add_option("--idle-timeout", idle_timeout,
                 "redis://: end the stream after this many seconds without an entry (0: run "
                 "until the end marker that `recflow publish` appends)")
    ->capture_default_str();
  cmd.add_option("--replay-speed", replay_speed,
                 "replay:: event seconds per wall second (86400 = a day per second; 0: no pacing)")
    ->capture_default_str();
  cmd.add_option("--redis-group", redis_group, "redis://: consumer group")->capture_default_str();
  cmd.add_option("--redis-consumer", redis_consumer, "redis://: consumer name in the group")
    ->capture_default_str();
}

namespace {

using std::chrono::milliseconds;

milliseconds to_ms(double seconds) {
  return milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
}

/// The source the spec names.
result<std::shared_ptr<rating_source>> open_source(const source_cli_options& o,
                                                   const ingest_options& ingest,
                                                   rating_scale scale, std::size_t batch_size,
                                                   std::shared_ptr<dead_letters> dead) {
  const std::string& s = o.source;
  constexpr double max_seconds = 1e9;  // about 31 years: keeps the conversions defined
  auto in = [](double v, double hi) { return v >= 0 && v <= hi; };  // false for NaN
  if (!in(o.batch_interval, max_seconds) || !in(o.idle_timeout, max_seconds)
      || !in(o.replay_speed, 1e15))
    return error{errc::invalid_argument,
                 "--batch-interval and --idle-timeout must be 0..1e9 seconds, --replay-speed "
                 "0..1e15"};
  if (s.starts_with("redis://")) {
    auto at = parse_redis_url(s);
    if (!at)
      return at.err();
    redis_source_options r;
    r.at = *at;
    r.group = o.redis_group;
    r.consumer = o.redis_consumer;
    r.max_ratings = batch_size;
    r.interval = to_ms(o.batch_interval);
    r.idle_timeout = to_ms(o.idle_timeout);
    r.scale = scale;
    r.dead = std::move(dead);
    if (auto ok = validate(r); !ok)
      return ok.err();
    return redis_source(std::move(r));
  }
  if (s.starts_with("tcp://")) {
    auto peer = parse_tcp_url(s);
    if (!peer)
      return peer.err();
    socket_source_options t;
    t.peer = *peer;
    t.max_ratings = batch_size;
    t.interval = to_ms(o.batch_interval);
    t.scale = scale;
    t.dead = std::move(dead);
    return socket_source(std::move(t));
  }
  auto interval = static_cast<std::int64_t>(o.batch_interval);
  if (s.starts_with("replay:") && s.size() > 7)
    return replay_source(s.substr(7), ingest,
                         {.speed = o.replay_speed, .policy = {batch_size, interval}});
  if (s.starts_with("file:") && s.size() > 5)
    return file_source(s.substr(5), ingest, {batch_size, interval});
  return error{errc::invalid_argument, "--source '" + s + "' is none of: " + source_grammar};
}

}  // namespace

int run_stream_from_source(const source_cli_options& o, const stream_run_settings& s) {
  auto t0 = std::chrono::steady_clock::now();
  if (s.engine != "local")
    return report({errc::invalid_argument,
                   "--source, --checkpoint-dir and --resume run on the actor graph (--engine local)"});
  if (s.params.mode != update_mode::batch_gradient)
    return report({errc::invalid_argument, "--source and checkpoints need --mode batch-gradient"});
  if (o.resume && o.checkpoint_dir.empty())
    return report({errc::invalid_argument, "--resume needs --checkpoint-dir"});
  auto ingest = make_ingest_options(s.data);
  if (!ingest)
    return report(ingest.err());

  // What to stream and what to validate on.
  std::shared_ptr<rating_source> source;
  std::shared_ptr<const rating_table> validation;
  rating_scale scale{0.5, 5.0};
  std::string what;
  auto dead = std::make_shared<dead_letters>();
  std::uint64_t expected_batches = 0;
  // --serve: the server starts once the scale is known and before any source thread (the
  // stop signals are blocked in the threads started after it); then, in this order, the
  // training threads' priority and this (driving) thread's are lowered, so the HTTP
  // thread keeps its own.
  source_stream_options so;
  std::unique_ptr<stream_serving> serving;
  auto start_serving = [&]() -> result<void> {
    if (!s.serve)
      return {};
    auto started = stream_serving::start(s.serve->listen, s.serve->tuning, s.params.rank, scale, s.seed);
    if (!started)
      return started.err();
    serving = std::move(*started);
    so.publish_interval = s.serve->publish_interval;
    auto priority = thread_priority::parse(s.serve->training_nice);
    if (!priority)
      return priority.err();
    so.engine = s.local.engine;
    so.engine.priority = *priority;
    lower_thread_priority(*priority);  // this thread drives the stream and evaluates
    serving->attach(so);
    return {};
  };
  if (o.source.empty()) {
    // --train/--data as `recflow stream` reads them, in memory, with checkpoints.
    auto data = load_data(s.data);
    if (!data)
      return report(data.err());
    auto stream = data->train.ratings;
    order_ratings(stream, s.eval.order, s.eval.order_seed);
    source = memory_source(to_batch(stream, data->train.users, data->train.items).ratings,
                           {.max_ratings = s.eval.batch_size});
    scale = data->train.scale;
    what = data->source;
    expected_batches = (data->train.size() + s.eval.batch_size - 1) / s.eval.batch_size;
    validation = std::make_shared<const rating_table>(std::move(data->test));
    if (auto ok = start_serving(); !ok)
      return report(ok.err());
  } else {
    if (!s.data.train.empty() || !s.data.data.empty())
      return report({errc::invalid_argument, "--source replaces --train and --data (keep --test)"});
    if (!s.data.test.empty()) {
      auto test = read_ratings(s.data.test, *ingest);
      if (!test)
        return report(test.err());
      scale = test->scale;
      validation = std::make_shared<const rating_table>(std::move(*test));
    }
    if (ingest->scale)
      scale = *ingest->scale;
    if (auto ok = start_serving(); !ok)
      return report(ok.err());
    auto src = open_source(o, *ingest, scale, s.eval.batch_size, dead);
    if (!src)
      return report(src.err());
    source = std::move(*src);
    what = o.source;
  }

  std::ofstream csv;
  bool append = false;
  if (!s.no_csv) {
    // A resumed run goes on with the CSV of the run it continues.
    std::error_code ec;
    append = o.resume && std::filesystem::file_size(s.csv, ec) > 0 && !ec;
    csv.open(s.csv, append ? std::ios::app : std::ios::trunc);
    if (!csv)
      return report({errc::io, s.csv + ": cannot write the per-batch CSV"});
    if (!append)
      csv << stream_csv_header;
  }
  if (!s.quiet)
    std::cout << fmt::format("streaming {}: batches of {}, {} validation ratings, rank {}, {} "
                             "pass(es), actor graph: {} partitions ({}), {} workers{}{}\n",
                             what, s.eval.batch_size, validation ? validation->size() : 0,
                             s.params.rank, s.params.passes, s.local.partitions,
                             s.local.partitioner, s.local.engine.workers,
                             s.local.nodes.empty()
                               ? std::string()
                               : fmt::format(", owners on {} nodes{}", s.local.nodes.size(),
                                             s.local.recover ? " (recover)" : ""),
                             o.checkpoint_dir.empty()
                               ? std::string()
                               : fmt::format(", checkpoints every {} batches in {}",
                                             o.checkpoint_every, o.checkpoint_dir));
  (void)expected_batches;
  bool trim_csv = append;
  auto on_batch = [&](const stream_report& r) {
    if (trim_csv) {  // rows a killed run wrote after its last checkpoint come again: drop them
      trim_csv = false;
      csv.close();
      std::ifstream in(s.csv);
      std::string line, kept;
      while (std::getline(in, line)) {
        std::uint64_t batch = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), batch);
        if (ec != std::errc{} || batch < r.batch)  // the header, and rows before this batch
          kept += line + '\n';
      }
      in.close();
      csv.open(s.csv, std::ios::trunc);
      csv << kept;
    }
    if (csv.is_open())
      csv << csv_row(r);
    if (!s.quiet)
      std::cout << fmt::format("batch {:>5}  ratings {:>9}  {}  ({:.2f} ms)\n", r.batch,
                               r.ratings_seen, error_text(r), r.batch_seconds * 1e3)
                << std::flush;
  };
  auto on_note = [](const std::string& n) { std::cerr << "recflow: " << n << '\n'; };

  so.partitions = s.local.partitions;
  so.partitioner = s.local.partitioner;
  if (!serving)
    so.engine = s.local.engine;
  so.max_batches = s.eval.max_batches;
  so.eval_every = s.eval.eval_every;
  so.checkpoints = {o.checkpoint_dir, o.checkpoint_every, o.checkpoint_keep};
  so.resume = o.resume;
  so.seed_model = s.seed;
  so.nodes = s.local.nodes;
  so.recover = s.local.recover;
  so.on_event = s.local.on_event;
  auto run = run_source_stream(s.params, source, scale, validation, so, on_batch, on_note);
  if (!run)
    return report(run.err());
  csv.close();
  if (serving)  // the final model, with what each user rated in the batches streamed
    serving->finish_indexed(run->model, run->mark.batches);

  auto final_metrics = validation ? evaluate(run->model, *validation) : error_metrics{};
  std::cout << fmt::format("{} after {} batches, {} ratings applied ({} users, {} items)\n",
                           validation ? fmt::format("final validation rmse {:.4f}  mae {:.4f}",
                                                    final_metrics.rmse, final_metrics.mae)
                                      : std::string("final model (no --test to validate on)"),
                           run->mark.batches, run->mark.ratings, run->model.n_users(),
                           run->model.n_items());
  if (run->added_ratings > 0)  // not in the mark: a resume continues the source after its own
    std::cout << fmt::format("posted ratings: {} trained on in this run\n", run->added_ratings);
  if (dead->count() > 0) {
    std::cout << fmt::format("dead letters: {} record(s) skipped\n", dead->count());
    for (const auto& r : dead->first_reasons())
      std::cout << "  " << r << '\n';
  }
  if (!run->checkpoints_written.empty())
    std::cout << fmt::format("checkpoint {} (position '{}')\n", run->checkpoints_written.back(),
                             run->mark.position);
  if (!s.save.empty()) {
    model_metadata meta;
    meta.set("trainer", "stream");
    meta.set("recflow_version", RECFLOW_VERSION);
    meta.set("data", what);
    meta.set("rank", std::to_string(s.params.rank));
    meta.set("passes", std::to_string(s.params.passes));
    meta.set("batch_size", std::to_string(s.eval.batch_size));
    meta.set("batches", std::to_string(run->mark.batches));
    meta.set("ratings_applied", std::to_string(run->mark.ratings));
    meta.set("stream_position", run->mark.position);
    if (auto saved = save_model(run->model, s.save, meta); !saved)
      return report(saved.err());
    std::cout << "saved model to " << s.save << '\n';
  }
  if (s.json) {
    nlohmann::json j{{"command", "stream"},
                     {"source", what},
                     {"rmse", final_metrics.rmse},
                     {"mae", final_metrics.mae},
                     {"train_ratings", run->mark.ratings},
                     {"test_ratings", final_metrics.count},
                     {"batches", run->mark.batches},
                     {"batches_this_run", run->reports.size()},
                     {"batch_size", s.eval.batch_size},
                     {"eval_every", s.eval.eval_every},
                     {"passes", s.params.passes},
                     {"rank", s.params.rank},
                     {"engine", "local"},
                     {"position", run->mark.position},
                     {"dead_letters", dead->count()},
                     {"posted_ratings", run->added_ratings},
                     {"resumed_from", run->resumed_from ? nlohmann::json(*run->resumed_from)
                                                        : nlohmann::json()},
                     {"checkpoints_written", run->checkpoints_written.size()},
                     {"per_batch_csv", s.no_csv ? nlohmann::json() : nlohmann::json(s.csv)},
                     {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
    if (!s.save.empty())
      j["model"] = s.save;
    print_json(j);
  }
  if (serving)
    serving->linger(s.serve->linger);
  return exit_ok;
}

}  // namespace recflow::cli
