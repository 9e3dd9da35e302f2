#include "recflow/engine/stream_job.hpp"

#include <array>
#include <chrono>
#include <limits>

#include "recflow/engine/source_ledger.hpp"
#include "recflow/graph/partition_plan.hpp"
#include "recflow/graph/source_resume.hpp"
#include "recflow/model/split.hpp"

namespace recflow {

namespace {

constexpr std::array<std::string_view, 6> partitioner_names{"hash",   "modulo", "range",
                                                            "random", "degree", "consistent"};

/// The partitioner of one edge. hash and modulo need nothing; range and degree are
/// fitted to the degrees of the training table (as a planner that knows the data would
/// fit them); random and consistent are seeded. Only hash and modulo take a live source.
result<partitioner> edge_partitioner(const stream_job_options& job, const rating_table* table,
                                     bool users, std::uint64_t salt) {
  auto k = job.partitioner;
  auto name = std::string(to_string(k));
  if (k == partitioner_kind::hash || k == partitioner_kind::modulo)
    return make_partitioner(name, job.partitions, salt);
  if (!table)
    return error{errc::invalid_argument,
                 "partitioner '" + name + "' cannot stream a live source (hash or modulo)"};
  const auto& ids = users ? table->users : table->items;
  std::vector<std::uint64_t> degrees(ids.size(), 0);
  for (const auto& r : table->ratings)
    ++degrees[users ? r.user : r.item];
  return make_key_partitioner(name, job.partitions, ids.externals(), degrees, salt);
}

/// What run_stream_job checks before it builds anything.
result<void> check(const stream_job_options& job, const table_input* table) {
  if (table) {
    if (!table->ratings)
      return error{errc::invalid_argument, "no ratings to stream"};
    if (auto ok = validate(stream_eval_options{.batch_size = table->batch_size, .order = table->order,
                                               .eval_every = job.evaluation.every});
        !ok)
      return ok.err();
    if (auto ok = check_ratings(*table->ratings); !ok)
      return ok.err();
  } else if (!std::get<source_input>(job.input).source) {
    return error{errc::invalid_argument, "no source to stream from"};
  }
  if (!job.checkpoints.dir.empty())
    if (auto ok = validate(job.checkpoints); !ok)
      return ok.err();
  if (job.resume && job.checkpoints.dir.empty())
    return error{errc::invalid_argument, "resuming needs a checkpoint folder"};
  if (std::holds_alternative<on_nodes>(job.where) && (job.wrap_source || job.on_model))
    return error{errc::invalid_argument,
                 "a wrapped source and models handed over run on the local engine only, not "
                 "with nodes"};
  return {};
}

/// The input as a source: a table ordered and cut into batches, or the live source.
std::shared_ptr<rating_source> open_input(const stream_input& input) {
  if (const auto* s = std::get_if<source_input>(&input))
    return s->source;
  const auto& t = std::get<table_input>(input);
  auto stream = t.ratings->ratings;
  order_ratings(stream, t.order, t.order_seed);
  return memory_source(to_batch(stream, t.ratings->users, t.ratings->items).ratings,
                       {.max_ratings = t.batch_size});
}

/// With job.resume: positions `source` after the newest good checkpoint (or leaves it at
/// the start when there is none) and returns its model; notes what it did.
result<std::optional<factor_model>> resume(const stream_job_options& job,
                                           std::shared_ptr<rating_source>& source,
                                           stream_job_result& out, const note_callback& note) {
  auto c = load_latest_checkpoint(job.checkpoints.dir);
  if (!c)
    return c.err();
  if (!*c) {
    note("no checkpoint in " + job.checkpoints.dir + ": starting from the beginning");
    return std::optional<factor_model>{};
  }
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
  if ((*c)->model.rank() != job.training.rank)
    return error{errc::invalid_argument,
                 (*c)->path + ": checkpoint has rank " + std::to_string((*c)->model.rank())
                   + ", the run asks for rank " + std::to_string(job.training.rank)};
  note("resuming from " + (*c)->path + " after " + std::to_string(out.mark.batches)
       + " batches (" + std::to_string(out.mark.ratings) + " ratings"
       + (out.mark.position.empty() ? std::string() : ", position " + out.mark.position) + ")");
  return std::optional<factor_model>{std::move((*c)->model)};
}

/// Runs `e` (local or cluster) to the end or job.max_batches, writing a checkpoint every
/// job.checkpoints.every batches and at the end; `out` holds what a resume found. With a
/// ledger, a batch counts only the source's ratings (ratings a wrapper added are trained
/// on, never skipped on a resume).
template <class Engine>
result<stream_job_result> drive(Engine& e, stream_job_result out, const stream_job_options& job,
                                const stream_callback& on_batch,
                                std::shared_ptr<source_ledger> ledger,
                                const note_callback& note) {
  const bool checkpointing = !job.checkpoints.dir.empty();
  const auto base = out.mark;
  auto start = std::chrono::steady_clock::now();
  auto report = [&](const batch_metrics& m) {
    stream_report r;
    r.batch = base.batches + m.batch;
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
    if (job.on_metrics)
      job.on_metrics(r, m);
  };
  auto write = [&](const factor_model& model) -> result<void> {
    auto path = write_checkpoint(job.checkpoints, model, out.mark);
    if (!path)
      return path.err();
    out.checkpoints_written.push_back(*path);
    if (job.on_checkpoint)
      job.on_checkpoint(*path);
    return {};
  };
  const std::size_t unlimited = std::numeric_limits<std::size_t>::max();
  std::size_t left = job.max_batches == 0 ? unlimited : job.max_batches;
  std::uint64_t last_checkpoint = base.batches;
  while (left > 0 && !e.finished()) {
    auto sum = e.run_n(checkpointing ? std::min(left, job.checkpoints.every) : left, report);
    if (!sum)
      return sum.err();
    if (left != unlimited)
      left -= std::min<std::size_t>(left, sum->batches);
    if (sum->batches == 0)
      break;
    if (checkpointing && out.mark.batches - last_checkpoint >= job.checkpoints.every) {
      // A checkpoint that cannot be written (a full disk, no descriptor left) costs only
      // itself: the ones before stay, training goes on, the next round tries again. A
      // broken graph (no snapshot) still ends the run.
      if (auto model = e.snapshot(); !model)
        return model.err();
      else if (auto ok = write(*model); !ok) {
        ++out.checkpoints_failed;
        note("checkpoint after batch " + std::to_string(out.mark.batches)
             + " not written: " + ok.err().message + "; training goes on");
      } else {
        last_checkpoint = out.mark.batches;
      }
    }
  }
  auto model = e.snapshot();
  if (!model)
    return model.err();
  // The last checkpoint must be written: the run reports it if it is not.
  if (checkpointing && out.mark.batches > last_checkpoint)
    if (auto ok = write(*model); !ok)
      return ok.err();
  out.model = std::move(*model);
  return out;
}

/// The graph of `job` on `source`, seeded by `seed` (a checkpoint's model) or the job's.
result<streaming_graph> make_graph(const stream_job_options& job,
                                   std::shared_ptr<rating_source> source,
                                   std::optional<factor_model> seed) {
  const auto* table = std::get_if<table_input>(&job.input);
  const rating_table* ratings = table ? table->ratings.get() : nullptr;
  auto by_user = edge_partitioner(job, ratings, true, 0);
  if (!by_user)
    return by_user.err();
  auto by_item = edge_partitioner(job, ratings, false, item_salt);
  if (!by_item)
    return by_item.err();
  streaming_graph g;
  g.source = std::move(source);
  g.partitions = job.partitions;
  g.user_partitioner = *by_user;
  g.item_partitioner = *by_item;
  g.training = job.training;
  g.seed_model = seed ? std::make_shared<const factor_model>(std::move(*seed)) : job.seed_model;
  g.scale = g.seed_model ? g.seed_model->scale()
            : ratings    ? ratings->scale
                         : std::get<source_input>(job.input).scale;
  if (job.evaluation.validation)
    g.evaluation = job.evaluation;
  return g;
}

}  // namespace

std::string_view to_string(partitioner_kind k) {
  return partitioner_names[static_cast<std::size_t>(k)];
}

result<partitioner_kind> parse_partitioner_kind(std::string_view name) {
  for (std::size_t k = 0; k < partitioner_names.size(); ++k)
    if (partitioner_names[k] == name)
      return static_cast<partitioner_kind>(k);
  return error{errc::invalid_argument, "unknown partitioner '" + std::string(name)
                                         + "' (hash, modulo, range, random, degree, consistent)"};
}

result<stream_job_result> run_stream_job(const stream_job_options& job,
                                         const stream_callback& on_batch,
                                         const note_callback& on_note) {
  const auto* table = std::get_if<table_input>(&job.input);
  if (auto ok = check(job, table); !ok)
    return ok.err();
  auto note = [&](const std::string& s) {
    if (on_note)
      on_note(s);
  };
  stream_job_result out;
  // One writer per checkpoint folder, for the whole run (resume included).
  std::optional<checkpoint_lock> folder_lock;
  if (!job.checkpoints.dir.empty()) {
    auto lock = checkpoint_lock::acquire(job.checkpoints.dir);
    if (!lock)
      return lock.err();
    folder_lock.emplace(std::move(*lock));
  }
  auto source = open_input(job.input);
  std::optional<factor_model> seed;
  if (job.resume) {
    auto found = resume(job, source, out, note);
    if (!found)
      return found.err();
    seed = std::move(*found);
  }
  auto g = make_graph(job, std::move(source), std::move(seed));
  if (!g)
    return g.err();
  if (out.resumed_from && job.on_resume)
    job.on_resume(*g->seed_model, out.mark);
  // A wrapper may add ratings of its own: with checkpoints, resume or a live source the
  // ledger keeps the mark to the source's.
  std::shared_ptr<source_ledger> ledger;
  if (job.wrap_source) {
    if (!table || !job.checkpoints.dir.empty() || job.resume) {
      ledger = std::make_shared<source_ledger>(out.mark.position);
      g->source = ledger->around(job.wrap_source(ledger->tap(std::move(g->source))));
    } else {
      g->source = job.wrap_source(std::move(g->source));
    }
  }
  if (job.on_model) {
    g->on_model = [f = job.on_model, base = out.mark.batches](std::uint64_t batch,
                                                              factor_model&& m) {
      f(base + batch, std::move(m));
    };
    g->publish_interval = job.publish_interval;
  }
  if (const auto* nodes = std::get_if<on_nodes>(&job.where)) {
    cluster_options co{.nodes = nodes->nodes, .engine = job.engine};
    co.secret = nodes->secret;
    co.tls = nodes->tls;
    co.recover = nodes->recover;
    co.checkpoint_every = nodes->checkpoint_every;
    co.on_event = nodes->on_event;
    auto engine = cluster_engine::make(std::move(*g), co);
    if (!engine)
      return engine.err();
    if (nodes->on_placement)
      nodes->on_placement((*engine)->explain());
    return drive(**engine, std::move(out), job, on_batch, nullptr, note);
  }
  auto engine = local_engine::make(std::move(*g), job.engine);
  if (!engine)
    return engine.err();
  return drive(**engine, std::move(out), job, on_batch, std::move(ledger), note);
}

}  // namespace recflow
