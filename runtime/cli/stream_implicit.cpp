// `recflow stream --implicit`: streaming implicit ALS over the events of --data, each
// user's latest event held out and scored (HR@k, NDCG@k against sampled items) after
// every batch, through run_implicit_stream_job (job/implicit_stream_job.hpp).
#include <chrono>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "cli/stream_options.hpp"
#include "recflow/engine/implicit_cluster.hpp"
#include "recflow/job/implicit_job.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/job/source_spec.hpp"
#include "recflow/job/stream_serving.hpp"
#include "recflow/data/events.hpp"
#include "recflow/model/model_io.hpp"

namespace recflow::cli {

namespace {

error usage(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

/// The job's options from the command line: implicit_params' defaults where the options
/// `stream` shares with explicit streaming (--rank, --lambda, --passes, --init-stddev,
/// --order) were not given.
result<implicit_stream_job_options> resolve(stream_options& s, const CLI::App& cmd) {
  auto given = [&](const char* name) { return cmd.count(name) > 0; };
  for (const char* explicit_only : {"--mode", "--gamma", "--gamma-bias", "--lambda-bias",
                                    "--max-step", "--max-in-flight", "--recover",
                                    "--checkpoint-dir", "--resume",
                                    "--train", "--split"})
    if (given(explicit_only))
      return usage(std::string(explicit_only) + " is not an option of --implicit streaming "
                   "(it holds out each user's latest event of --data, or streams --source "
                   "and scores --test)");
  if (s.sources.source.empty() && given("--test"))
    return usage("--implicit scores --test with --source; with --data it holds out each "
                 "user's latest event itself");
  if (!s.sources.source.empty() && given("--data"))
    return usage("--source replaces --data (keep --test)");
  auto& im = s.implicit;
  if (auto ok = im.parse_words(); !ok)
    return ok.err();
  implicit_stream_job_options o;
  o.params.als = im.job.als;
  o.params.refresh_every = s.refresh_every;
  auto& p = o.params.als;
  if (given("--rank")) p.rank = s.params.rank;
  if (given("--lambda")) p.lambda = s.params.lambda;
  if (given("--init-stddev")) p.init_stddev = s.params.init_stddev;
  if (given("--passes")) o.params.passes = s.params.passes;
  p.seed = s.data.seed;
  o.split_seed = o.order_seed = o.ranking.seed = s.data.seed;
  o.ranking.k = s.ranking.k;
  o.ranking.negatives = im.job.ranking.negatives;
  o.batch_size = s.eval.batch_size;
  o.eval_every = s.eval.eval_every;
  o.max_batches = s.eval.max_batches;
  if (given("--order")) {
    auto order = parse_order(s.order);
    if (!order)
      return order.err();
    o.order = *order;
  }
  if (s.engine != "local" && s.engine != "reference")
    return usage("--engine must be local or reference, got '" + s.engine + "'");
  o.reference = s.engine == "reference";
  o.graph.partitions = s.partitions;
  o.graph.workers = s.engine_opts.workers;
  if (s.partitioner != "hash" && s.partitioner != "modulo")
    return usage("--implicit streaming partitions by hash or modulo, got '" + s.partitioner + "'");
  o.graph.user_partitioner = make_partitioner(s.partitioner, s.partitions);
  o.graph.item_partitioner = make_partitioner(s.partitioner, s.partitions, 0x51ed);
  if (given("--nodes")) {
    auto links = nodes_option(s.nodes, s.engine, s.link);
    if (!links)
      return links.err();
    o.nodes = std::move(links->nodes);
    o.secret = std::move(links->secret);
    o.tls = std::move(links->tls);
    if (s.explain)
      std::cout << explain_implicit_cluster({o.nodes, {}, {}, o.graph}) << std::flush;
  }
  if (!s.init_model.empty()) {
    auto m = load_model(s.init_model);
    if (!m)
      return m.err();
    if (!given("--rank"))
      p.rank = m->rank();
    o.seed = std::make_shared<const factor_model>(std::move(*m));
  }
  if (auto ok = validate(o); !ok)
    return ok.err();
  return o;
}

}  // namespace

namespace {

/// What a run streams, and the dead letters of a source.
struct implicit_input {
  std::string what;
  std::shared_ptr<dead_letters> dead = std::make_shared<dead_letters>();
};

/// --source's --test: the held-out events to score (none without --test).
result<implicit_source_input> open_events_source(const stream_options& s) {
  auto ingest = make_ingest_options(s.data);
  if (!ingest)
    return ingest.err();
  const auto& threshold = s.implicit.threshold;
  implicit_source_input in;
  in.threshold = threshold;
  if (!s.data.test.empty()) {
    auto test = read_events(s.data.test, {.ingest = *ingest, .threshold = threshold});
    if (!test)
      return test.err();
    in.held_out = std::make_shared<const rating_table>(std::move(*test));
  }
  return in;
}

/// --serve and --metrics: the query service (queries and posted events) and the monitor
/// beside the stream; start them before any other thread. GET /model shows the run's
/// parameters.
result<stream_endpoints> start_implicit_endpoints(const stream_options& s,
                                                  implicit_stream_job_options& o,
                                                  const std::string& what) {
  endpoint_setup e{.what = what, .rank = o.params.als.rank, .scale = rating_scale{0.0, 1.0},
                   .seed = o.seed, .metadata = implicit_stream_metadata(o, what)};
  e.describe = [&](stream_monitoring& m) {
    auto& mon = m.monitor();
    mon.set_info("command", "stream implicit ALS");
    mon.set_info("rank", std::to_string(o.params.als.rank));
    mon.set_info("engine", o.reference ? "reference" : "local");
  };
  e.attach = [&](stream_serving& serving, thread_priority priority) {
    o.publish_interval = std::chrono::milliseconds(s.publish_interval_ms);
    o.graph.priority = priority;
    serving.attach(o);
  };
  return start_endpoints(s, e);
}

/// A batch on the dashboard and /metrics: its events and update time and, when scored,
/// HR@k and NDCG@k.
void show_batch(serve::live_monitor& mon, const implicit_batch_report& b, double elapsed,
                std::size_t k) {
  mon.on_batch({.batch = b.batch, .ratings = b.events, .ratings_seen = b.streamed,
                .latency_seconds = b.seconds, .elapsed_seconds = elapsed});
  if (!b.ranking)
    return;
  show_ranking(mon, *b.ranking);
  mon.on_event("ranking", fmt::format("batch {}: HR@{} {:.4f}  NDCG@{} {:.4f}", b.batch, k,
                                      b.ranking->hit_rate, k, b.ranking->ndcg));
}

}  // namespace

int run_stream_implicit(stream_options& s, const CLI::App& cmd) {
  const auto t0 = std::chrono::steady_clock::now();
  auto job = resolve(s, cmd);
  if (!job)
    return report(job.err());
  auto& o = *job;
  std::ofstream csv;
  if (!s.no_csv) {
    csv.open(s.csv);
    if (!csv)
      return report(error{errc::io, "cannot write " + s.csv});
    csv << "batch,events,streamed,hr_at_k,ndcg_at_k,update_ms\n";
  }
  const auto& p = o.params.als;
  const auto k = o.ranking.k;
  stream_endpoints ends;  // --serve and --metrics
  auto on_batch = [&](const implicit_batch_report& b) {
    if (ends.monitoring)
      show_batch(ends.monitoring->monitor(), b,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), k);
    if (csv.is_open()) {
      csv << b.batch << ',' << b.events << ',' << b.streamed << ',';
      if (b.ranking)
        csv << fmt::format("{:.6f},{:.6f}", b.ranking->hit_rate, b.ranking->ndcg);
      else
        csv << ',';
      csv << fmt::format(",{:.3f}\n", b.seconds * 1e3);
    }
    if (!s.quiet && b.ranking)
      std::cout << fmt::format("batch {:>5}  {:>9} events  HR@{} {:.4f}  NDCG@{} {:.4f}  "
                               "({:.1f} ms)\n",
                               b.batch, b.streamed, k, b.ranking->hit_rate, k, b.ranking->ndcg,
                               b.seconds * 1e3);
  };
  auto start_line = [&](const std::string& what, const std::string& order) {
    if (!s.quiet)
      std::cout << fmt::format("streaming implicit ALS on {}: rank {}, lambda {}, alpha {}, {} "
                               "confidence, solver {}, recency boost {}, {} pass(es) and every "
                               "key refreshed every {} batches, batches of {}{}, {}\n",
                               what, p.rank, p.lambda, p.alpha, to_string(p.confidence),
                               to_string(p.solver), p.recency_boost, o.params.passes,
                               o.params.refresh_every, o.batch_size, order,
                               o.reference ? std::string("reference engine")
                                           : fmt::format("actor graph, {} partitions{}",
                                                         o.graph.partitions,
                                                         o.nodes.empty() ? std::string()
                                                         : fmt::format(" on {} nodes",
                                                                       o.nodes.size())));
  };

  implicit_input input;
  result<implicit_stream_result> run = error{errc::invalid_argument, "nothing ran"};
  std::optional<implicit_source_input> live;
  if (s.sources.source.empty()) {
    std::string file;
    auto events = s.implicit.read(s.data, file);
    if (!events)
      return report(events.err());
    input.what = fmt::format("{} ({})", file, s.implicit.events_text());
    auto started = start_implicit_endpoints(s, o, input.what);
    if (!started)
      return report(started.err());
    ends = std::move(*started);
    start_line(input.what, o.order == stream_order::time ? " in time order" : " in random order");
    run = run_implicit_stream_job(*events, o, on_batch);
  } else {
    input.what = s.sources.source + (s.implicit.threshold
                                       ? fmt::format(" (ratings >= {} as events)", *s.implicit.threshold)
                                       : std::string(" (events)"));
    auto started = start_implicit_endpoints(s, o, input.what);  // before the source starts threads
    if (!started)
      return report(started.err());
    ends = std::move(*started);
    auto in = open_events_source(s);
    if (!in)
      return report(in.err());
    auto spec = s.sources.spec;
    spec.batch_size = o.batch_size;
    spec.records = s.implicit.threshold ? record_kind::rating : record_kind::event;
    auto ingest = make_ingest_options(s.data);
    if (!ingest)
      return report(ingest.err());
    if (!s.implicit.threshold && ingest->format == input_format::detect)
      ingest->format = input_format::events;
    // Events weigh any positive amount: the rating scale holds only for --implicit-threshold.
    auto src = open_source(s.sources.source, spec, *ingest,
                           ingest->scale.value_or(rating_scale{0.5, 5.0}), input.dead);
    if (!src)
      return report(src.err());
    in->source = std::move(*src);
    start_line(input.what, "");
    live = std::move(*in);
    run = run_implicit_source_job(*live, o, on_batch);
  }
  if (!run)
    return report(run.err());
  const auto& r = *run;
  if (ends.serving)
    ends.serving->finish(r.model, r.batches, r.train_events);
  ends.finish_monitoring(std::nullopt, std::nullopt);
  const bool scored = s.sources.source.empty() || (live && live->held_out);
  const double rate = r.stream_seconds > 0 ? double(r.train_events) / r.stream_seconds : 0.0;
  if (scored)
    std::cout << fmt::format("final: HR@{0} {1:.4f}  NDCG@{0} {2:.4f}   popularity baseline HR@{0} "
                             "{3:.4f}  NDCG@{0} {4:.4f}   {5} events in {6} batches, {7:.0f} "
                             "events/s in updates ({8} held out)\n",
                             k, r.ranking.hit_rate, r.ranking.ndcg, r.popularity.hit_rate,
                             r.popularity.ndcg, r.train_events, r.batches, rate, r.held_out);
  else
    std::cout << fmt::format("final model (no --test to score on): {} events in {} batches, "
                             "{:.0f} events/s in updates ({} users, {} items)\n",
                             r.train_events, r.batches, rate, r.model.n_users(), r.model.n_items());
  if (input.dead->count() > 0) {
    std::cout << fmt::format("dead letters: {} record(s) skipped\n", input.dead->count());
    for (const auto& reason : input.dead->first_reasons())
      std::cout << "  " << reason << '\n';
  }
  if (!s.save.empty()) {
    if (auto saved = save_model(r.model, s.save, implicit_stream_metadata(o, input.what, r)); !saved)
      return report(saved.err());
    if (!s.quiet)
      std::cout << "saved model to " << s.save << '\n';
  }
  if (s.json) {
    nlohmann::json j = {
        {"command", "stream"}, {"feedback", "implicit"},
        {"engine", o.reference ? "reference" : "local"},
        {"partitions", o.reference ? 1 : o.graph.partitions}, {"data", input.what},
        {"rank", p.rank}, {"lambda", p.lambda}, {"alpha", p.alpha},
        {"confidence", to_string(p.confidence)}, {"solver", to_string(p.solver)},
        {"cg_steps", p.cg_steps}, {"recency_boost", p.recency_boost},
        {"recency_half_life", p.recency_half_life}, {"passes", o.params.passes},
        {"refresh_every", o.params.refresh_every}, {"batch_size", o.batch_size},
        {"batches", r.batches}, {"train_events", r.train_events}, {"held_out", r.held_out},
        {"users", r.model.n_users()}, {"items", r.model.n_items()},
        {"dead_letters", input.dead->count()},
        {"stream_seconds", r.stream_seconds}, {"events_per_second", rate}};
    if (!o.nodes.empty())
      j["nodes"] = o.nodes.size();
    if (scored) {
      j["unknown"] = r.ranking.unknown;
      j["k"] = k;
      j["negatives"] = r.ranking.negatives;
      j[fmt::format("hr_at_{}", k)] = r.ranking.hit_rate;
      j[fmt::format("ndcg_at_{}", k)] = r.ranking.ndcg;
      j[fmt::format("popularity_hr_at_{}", k)] = r.popularity.hit_rate;
      j[fmt::format("popularity_ndcg_at_{}", k)] = r.popularity.ndcg;
    }
    if (s.implicit.threshold)
      j["implicit_threshold"] = *s.implicit.threshold;
    if (!s.save.empty())
      j["model"] = s.save;
    if (!s.no_csv)
      j["csv"] = s.csv;
    j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print_json(j);
  }
  ends.linger(s.serve_linger);
  return exit_ok;
}

}  // namespace recflow::cli
