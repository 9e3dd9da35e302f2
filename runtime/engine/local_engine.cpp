#include "recflow/engine/local_engine.hpp"

#include <optional>

#include <caf/all.hpp>

#include "recflow/actors/item_owner.hpp"
#include "recflow/actors/partition.hpp"
#include "recflow/actors/shard_eval.hpp"
#include "recflow/actors/source.hpp"
#include "recflow/actors/user_owner.hpp"
#include "recflow/engine/coordinator.hpp"
#include "recflow/engine/engine_actors.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

namespace {

/// An evaluation whose validation ratings x rank is below this runs where the batch ran
/// (packed on one worker after a small batch); larger ones spread the user owners over the
/// workers. MovieLens 100K's 20,000 validation ratings at rank 10 and 50 (0.2M, 1M work)
/// evaluated faster packed, at rank 100 (2M) spread: a second core gains less on a small
/// evaluation than waking it and moving the owners' tables costs (docs/benchmarks.md).
constexpr std::uint64_t spread_evaluation_work = 2'000'000;

/// $RECFLOW_SPREAD_EVAL_WORK when it holds a count, for measuring (and for the tests, which
/// evaluate small sets both ways); spread_evaluation_work otherwise.
std::uint64_t spread_evaluation_setting() {
  return env_count("RECFLOW_SPREAD_EVAL_WORK", spread_evaluation_work);
}

}  // namespace

/// The actors of one process around the coordinator: they are the coordinator's driver.
struct local_engine::impl final : round_driver {
  engine_options opts;
  coordinator core;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  caf::actor source, partition;
  std::vector<caf::actor> users, items;
  std::vector<shard_evaluation> eval_parts;  ///< the validation set by user shard (lazily)
  std::vector<double> eval_cores;  ///< b_u + b_i + u . p by validation position (kept)
  std::vector<float> eval_truth;   ///< the validation ratings' values, by position
  std::vector<error_sums> eval_sums;  ///< one evaluation's sums, by block
  evaluation_round eval_round;        ///< shared with the user owners while they evaluate
  enum class placement { unset, packed, spread, fixed };  ///< fixed: another scheduler
  placement placed = placement::unset;
  std::uint64_t spread_eval_work = spread_evaluation_setting();

  impl(streaming_graph g, const engine_options& o)
      : opts(o),
        core(std::move(g),
             {.max_in_flight = o.max_in_flight,
              .history_limit = o.history_limit,
              .hold_after_snapshot = !o.frame_rows},  // views: the owners hold until released
             *this) {
    const auto& graph = core.graph();
    add_graph_message_types(cfg);
    configure_scheduler(cfg, opts.workers, opts.priority);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    auto me = caf::actor_cast<caf::actor>(*self);
    auto n = static_cast<std::uint32_t>(graph.partitions);
    for (std::uint32_t s = 0; s < n; ++s)
      users.push_back(spawn_user_owner(*sys, s, n, graph.training, me, opts.frame_rows,
                                       opts.frame_rows));
    for (std::uint32_t t = 0; t < n; ++t)
      items.push_back(spawn_item_owner(*sys, t, n, graph.training, me, opts.frame_rows,
                                       opts.frame_rows));
    partition = spawn_partition(*sys, graph.user_partitioner, graph.item_partitioner, users,
                                items, me);
    wire_owners(*self, users, items, partition);
    place(false);
    source = spawn_source(*sys, graph.source, me);
    (*self)->monitor(source);
  }

  ~impl() override {
    stop_actors(*self, {&users, &items});
    (*self)->send_exit(partition, caf::exit_reason::user_shutdown);
    (*self)->send_exit(source, caf::exit_reason::user_shutdown);
    // A detached actor's thread ends only once its last handle is gone.
    users.clear();
    items.clear();
    eval_round.owners.clear();
    partition = nullptr;
    source = nullptr;
    self.reset();
    sys.reset();
  }

  /// Loads graph.seed_model into the owners (the coordinator continues its running mean).
  result<void> start() {
    const auto& graph = core.graph();
    if (!graph.seed_model)
      return {};
    auto failed = load_model(*self, users, items, *graph.seed_model, graph, opts.stall_timeout);
    if (failed)
      return error{failed->answered ? errc::invalid_argument : errc::io,
                   "seeding the model: " + failed->message};
    return {};
  }

  /// Where the owners run (under the affinity scheduler): spread, the user and the item
  /// owner of shard s on worker s (modulo the workers), or packed, all on the first.
  /// Batches of less work than pack_work are packed: they cost more in rows crossing
  /// between the cores' caches than a second core gives back (docs/benchmarks.md);
  /// an evaluation of spread_evaluation_work or more spreads again, each user owner
  /// predicting its shard's ratings on its own worker.
  void place(bool packed) {
    auto want = packed ? placement::packed : placement::spread;
    if (placed == want || placed == placement::fixed)
      return;
    bool pinned = true;
    for (std::size_t s = 0; s < users.size(); ++s) {
      pinned = prefer_worker(*sys, users[s], packed ? 0 : s) && pinned;
      pinned = prefer_worker(*sys, items[s], packed ? 0 : s) && pinned;
    }
    // The partition step too, packed; spread, it runs on whichever worker is free.
    prefer_worker(*sys, partition, packed ? 0 : any_worker);
    placed = pinned ? want : placement::fixed;
  }

  void pull() override { (*self)->send(source, pull_atom::value); }

  void send(const batch_stamp& stamp, rating_batch batch) override {
    const auto& p = core.graph().training;
    place(std::uint64_t(batch.size()) * std::uint64_t(p.rank) * std::uint64_t(p.passes)
          < pack_work);
    (*self)->send(partition, stamped_batch{stamp, std::move(batch)});
  }

  void wait() override {
    poll_mailbox(**self);
    receive_round(
      *self, core, [] { return true; },
      [&](shard_view& v) { core.on_view(v); },
      [&](caf::down_msg& dm) {
        core.fail(error{errc::io, "an actor of the graph stopped unexpectedly: "
                                    + caf::to_string(dm.reason)});
      },
      caf::after(opts.stall_timeout) >> [&] {
        core.fail(error{errc::io, "no progress for " + std::to_string(opts.stall_timeout.count())
                                    + " ms; the graph is stuck"});
      });
  }

  /// Validation error after the batch of `stamp`, while every owner holds: the user
  /// owners predict their shares of the validation set in parallel (shard_evaluation),
  /// each writing the cores of the ratings whose rows changed in place; the last to finish
  /// has every owner finish them with the batch's mean and sum the errors of its share of
  /// the blocks of validation positions (evaluation_round); the blocks are added here in
  /// order, as evaluate() adds them. read() may release the owners at once: a user owner
  /// takes the release after its evaluation (one sender, in order), and no batch reaches
  /// an owner before this returns (the coordinator holds it, hold_after_snapshot), so no
  /// store changes while one is read.
  std::optional<result<error_metrics>> evaluate_in_place(
    const batch_stamp& stamp, const std::vector<const shard_store*>& is,
    const std::function<void()>& read) override {
    const auto& graph = core.graph();
    const auto& validation = *graph.evaluation->validation;
    const auto n = users.size();
    if (eval_parts.empty()) {
      eval_parts = split_validation(validation, n, graph.user_partitioner,
                                    graph.item_partitioner);
      eval_cores.assign(validation.ratings.size(), 0.0);
      eval_truth.resize(validation.ratings.size());
      for (std::size_t k = 0; k < validation.ratings.size(); ++k)
        eval_truth[k] = validation.ratings[k].value;
      eval_sums.resize(error_blocks(eval_cores.size()));
      eval_round.owners = users;
      eval_round.sums.resize(n);
    }
    if (std::uint64_t(validation.ratings.size()) * std::uint64_t(graph.training.rank)
        >= spread_eval_work)
      place(false);
    const auto blocks = eval_sums.size();
    for (std::size_t s = 0; s < n; ++s)
      eval_round.sums[s] = sum_errors{stamp.batch, stamp.mu, graph.scale, blocks * s / n,
                                      blocks * (s + 1) / n, eval_cores, eval_truth,
                                      eval_sums.data()};
    eval_round.writing.store(n, std::memory_order_release);
    for (std::size_t s = 0; s < n; ++s)
      (*self)->send(users[s], evaluate_shard{stamp.batch, &eval_parts[s], &is,
                                             eval_cores.data(), &eval_round});
    read();  // the owners may go on once they have summed
    std::optional<error> err;
    for (std::size_t summed = 0; summed < n && !err;) {
      poll_mailbox(**self);
      (*self)->receive(
        [&](errors_summed& m) { summed += m.batch == stamp.batch; },
        caf::after(opts.stall_timeout) >> [&] {
          err = error{errc::io, "evaluation failed: no answer for "
                                  + std::to_string(opts.stall_timeout.count()) + " ms"};
        });
    }
    if (err)
      return result<error_metrics>(*err);
    return result<error_metrics>(metrics_of_sums(eval_sums, eval_cores.size()));
  }

  void release() override {
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        (*self)->send(a, release_atom::value);
  }

  /// Every owner holds and answers a view of its shard; the model is assembled from the
  /// shards where they are (no copy of them beside it), then the owners go on. Owners
  /// that speak in frames (frame_rows) hold no views: they export copies.
  result<factor_model> snapshot() {
    if (core.broken())
      return *core.broken();
    if (opts.frame_rows) {
      auto got = gather_shards(*self, users, items, opts.stall_timeout);
      if (got.failed)
        return error{errc::io, "snapshot failed: " + got.why};
      return core.assemble(got.users, got.items);
    }
    std::vector<shard_view> uv, iv;
    std::optional<std::string> failed;
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        if (!failed)
          (*self)->request(a, opts.stall_timeout, view_atom::value)
            .receive(
              [&](shard_view& v) {
                if (v.store)
                  (v.side == side::user ? uv : iv).push_back(v);
                else
                  failed = "an owner answered a view without its shard";
              },
              [&](caf::error& e) { failed = (*self)->system().render(e); });
    auto model = failed ? result<factor_model>(error{errc::io, "snapshot failed: " + *failed})
                        : core.assemble(columns(uv), columns(iv));
    release();
    return model;
  }
};

local_engine::local_engine(std::unique_ptr<impl> p) : stream_engine(p->core), impl_(std::move(p)) {}
local_engine::~local_engine() = default;

result<std::unique_ptr<local_engine>> local_engine::make(streaming_graph g,
                                                         const engine_options& o) {
  auto state = start_engine<impl>(std::move(g), o);
  if (!state)
    return state.err();
  return std::unique_ptr<local_engine>(new local_engine(std::move(*state)));
}

result<factor_model> local_engine::snapshot() { return impl_->snapshot(); }

}  // namespace recflow
