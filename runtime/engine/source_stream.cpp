#include "recflow/engine/source_stream.hpp"

#include <chrono>
#include <limits>

#include "recflow/engine/source_ledger.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/graph/source_resume.hpp"

namespace recflow {

namespace {
template <class Engine>
result<source_stream_result> drive_source(Engine& engine, source_stream_result out,
                                          const source_stream_options& opts,
                                          const stream_callback& on_batch,
                                          std::shared_ptr<source_ledger> ledger);
}  // namespace

result<source_stream_result> run_source_stream(
  const stream_params& params, std::shared_ptr<rating_source> source, rating_scale scale,
  std::shared_ptr<const rating_table> validation, const source_stream_options& opts,
  const stream_callback& on_batch, const std::function<void(const std::string&)>& on_note) {
  if (!source)
    return error{errc::invalid_argument, "no source to stream from"};
  const bool checkpointing = !opts.checkpoints.dir.empty();
  if (checkpointing)
    if (auto ok = validate(opts.checkpoints); !ok)
      return ok.err();
  if (opts.resume && !checkpointing)
    return error{errc::invalid_argument, "resuming needs a checkpoint folder"};
  auto note = [&](const std::string& s) {
    if (on_note)
      on_note(s);
  };
  auto n = opts.partitions;
  if (opts.partitioner != "hash" && opts.partitioner != "modulo")
    return error{errc::invalid_argument, "partitioner '" + opts.partitioner
                                           + "' cannot stream a live source (hash or modulo)"};
  if (!opts.nodes.empty() && (opts.wrap_source || opts.on_model))
    return error{errc::invalid_argument,
                 "a wrapped source and models handed over run on the local engine only, not "
                 "with nodes"};

  source_stream_result out;
  std::optional<factor_model> seed;
  if (opts.resume) {
    auto c = load_latest_checkpoint(opts.checkpoints.dir);
    if (!c)
      return c.err();
    if (!*c) {
      note("no checkpoint in " + opts.checkpoints.dir + ": starting from the beginning");
    } else {
      for (const auto& r : (*c)->rejected)
        note("skipping a bad checkpoint: " + r);
      out.mark = (*c)->mark;
      out.resumed_from = (*c)->path;
      if (!out.mark.position.empty()) {
        if (auto ok = source->resume_after(out.mark.position); !ok)
          return error{ok.err().code, (*c)->path + ": cannot resume the source after position '"
                                        + out.mark.position + "': " + ok.err().message};
      } else {
        source = skip_ratings(std::move(source), out.mark.ratings);
      }
      seed = std::move((*c)->model);
      if (seed->rank() != params.rank)
        return error{errc::invalid_argument,
                     (*c)->path + ": checkpoint has rank " + std::to_string(seed->rank())
                       + ", the run asks for rank " + std::to_string(params.rank)};
      note("resuming from " + (*c)->path + " after " + std::to_string(out.mark.batches)
           + " batches (" + std::to_string(out.mark.ratings) + " ratings"
           + (out.mark.position.empty() ? std::string() : ", position " + out.mark.position)
           + ")");
    }
  }

  streaming_graph g;
  g.source = source;
  g.partitions = n;
  g.user_partitioner = make_partitioner(opts.partitioner, n, 0);
  g.item_partitioner = make_partitioner(opts.partitioner, n, 0x51ed);
  g.training = params;
  g.scale = scale;
  if (validation)
    g.evaluation = evaluation_options{validation, opts.eval_every};
  if (seed)
    g.seed_model = std::make_shared<const factor_model>(std::move(*seed));
  else
    g.seed_model = opts.seed_model;
  if (out.resumed_from && opts.on_resume)
    opts.on_resume(*g.seed_model, out.mark);
  // A wrapper may add ratings of its own: the ledger keeps the mark to the source's.
  std::shared_ptr<source_ledger> ledger;
  if (opts.wrap_source) {
    ledger = std::make_shared<source_ledger>(out.mark.position);
    g.source = ledger->around(opts.wrap_source(ledger->tap(std::move(g.source))));
  }
  if (opts.on_model) {
    g.on_model = [f = opts.on_model, base = out.mark.batches](std::uint64_t batch,
                                                              factor_model&& m) {
      f(base + batch, std::move(m));
    };
    g.publish_interval = opts.publish_interval;
  }
  if (!opts.nodes.empty()) {
    cluster_options co{.nodes = opts.nodes, .engine = opts.engine};
    co.recover = opts.recover;
    co.checkpoint_every = checkpointing ? opts.checkpoints.every : co.checkpoint_every;
    co.on_event = opts.on_event;
    auto engine = cluster_engine::make(std::move(g), co);
    if (!engine)
      return engine.err();
    return drive_source(**engine, std::move(out), opts, on_batch, nullptr);
  }
  auto engine = local_engine::make(std::move(g), opts.engine);
  if (!engine)
    return engine.err();
  return drive_source(**engine, std::move(out), opts, on_batch, std::move(ledger));
}

namespace {

/// Runs `engine` (local or cluster) to the end or opts.max_batches, writing a checkpoint
/// every opts.checkpoints.every batches and at the end; `out` holds what a resume found.
template <class Engine>
result<source_stream_result> drive_source(Engine& e, source_stream_result out,
                                          const source_stream_options& opts,
                                          const stream_callback& on_batch,
                                          std::shared_ptr<source_ledger> ledger) {
  const bool checkpointing = !opts.checkpoints.dir.empty();
  const auto base = out.mark;
  auto start = std::chrono::steady_clock::now();
  auto report = [&](const batch_metrics& m) {
    stream_report r;
    r.batch = base.batches + m.batch;
    // Without a wrapper every rating is the source's; with one, only what the ledger
    // counted (ratings it added are trained on, never skipped on a resume).
    auto from_source = ledger ? ledger->source_ratings(m.batch) : m.ratings_seen;
    out.added_ratings = m.ratings_seen - from_source;
    r.ratings_seen = base.ratings + from_source;
    r.evaluated = m.rmse.has_value();
    r.rmse = m.rmse.value_or(0.0);
    r.mae = m.mae.value_or(0.0);
    r.batch_seconds = m.latency_seconds;
    r.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.mark.batches = r.batch;
    out.mark.ratings = r.ratings_seen;
    out.mark.position = m.position;
    out.reports.push_back(r);
    if (on_batch)
      on_batch(r);
  };
  auto checkpoint = [&]() -> result<void> {
    auto model = e.snapshot();
    if (!model)
      return model.err();
    auto path = write_checkpoint(opts.checkpoints, *model, out.mark);
    if (!path)
      return path.err();
    out.checkpoints_written.push_back(*path);
    return {};
  };
  const std::size_t unlimited = std::numeric_limits<std::size_t>::max();
  std::size_t left = opts.max_batches == 0 ? unlimited : opts.max_batches;
  std::uint64_t last_checkpoint = base.batches;
  while (left > 0 && !e.finished()) {
    auto chunk = checkpointing ? std::min(left, opts.checkpoints.every) : left;
    auto sum = e.run_n(chunk, report);
    if (!sum)
      return sum.err();
    if (left != unlimited)
      left -= std::min<std::size_t>(left, sum->batches);
    if (sum->batches == 0)
      break;
    if (checkpointing && out.mark.batches - last_checkpoint >= opts.checkpoints.every) {
      if (auto ok = checkpoint(); !ok)
        return ok.err();
      last_checkpoint = out.mark.batches;
    }
  }
  if (checkpointing && out.mark.batches > last_checkpoint)
    if (auto ok = checkpoint(); !ok)
      return ok.err();
  auto model = e.snapshot();
  if (!model)
    return model.err();
  out.model = std::move(*model);
  return out;
}

}  // namespace

}  // namespace recflow
