/// The coordinator of a streaming graph's micro-batch rounds, the one core that
/// local_engine and cluster_engine share, without an actor system: tested by calling it.
///
///   struct my_driver : round_driver { ... };        // how batches move (actors, a test)
///   coordinator core(graph, {.max_in_flight = 2}, driver);
///   auto sum = core.drive(10, {}, on_batch);        // run_n(10)
///
/// A round: the coordinator asks the driver to pull a batch from the source while fewer
/// than max_in_flight batches are between the source and completion; a batch that arrives
/// (on_pulled) is stamped with its number, its offset and the new global mean, and handed
/// to the driver to send to the partition step. The partition step's report (on_routed)
/// and every owner's (on_owner_done) complete it; after a snapshot batch (one that is
/// evaluated, handed to the graph's on_model, or checkpointed) the owners' shards too:
/// as copies (on_parts) or, in one process, as views of shards the owners hold
/// (on_view). Completed batches are recorded in order (history, the source's applied(),
/// the callbacks).
///
/// The driver's wait() receives one message and calls the matching on_... function. A
/// report that names no batch in flight, or a malformed one, breaks the coordinator
/// (broken(), every later drive() returns it) instead of crashing.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/engine/metrics.hpp"
#include "recflow/engine/publish_pacer.hpp"
#include "recflow/engine/stream_engine.hpp"
#include "recflow/graph/graph.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

class shard_store;

/// Where the stream stands after a completed batch: what a checkpoint keeps and what a
/// recovery rewinds to.
struct stream_point {
  std::uint64_t batches = 0;  ///< batches applied
  std::uint64_t ratings = 0;  ///< ratings applied
  double mu = 0.0;            ///< the running mean then
  std::uint64_t mu_count = 0;
  std::string position;       ///< the source's position after the last batch
};

/// What the coordinator needs of an engine: how batches and answers move.
class round_driver {
 public:
  virtual ~round_driver() = default;
  /// Asks the source for one batch; it answers through on_pulled, on_end or
  /// on_source_failed.
  virtual void pull() = 0;
  /// Sends a stamped batch to the partition step.
  virtual void send(const batch_stamp& stamp, rating_batch batch) = 0;
  /// Waits for one message (or the stall timeout) and hands it to the coordinator.
  virtual void wait() = 0;
  /// Every owner holds after snapshot batch `stamp` and has sent a view of its shard: the
  /// validation error computed where the shards are (`items`: the item stores by shard).
  /// A driver that evaluates calls `read()` once the owners may go on (which they do
  /// unless the batch also needs copies): after its reads of the shards, or before them
  /// if every owner takes the release only after its own reads. No batch reaches an owner
  /// before this returns (hold_after_snapshot), so a release lets no store change then.
  /// Nothing (and no read()): the coordinator assembles the model and evaluates it (the
  /// default).
  virtual std::optional<result<error_metrics>> evaluate_in_place(
    const batch_stamp& stamp, const std::vector<const shard_store*>& items,
    const std::function<void()>& read);
  /// Every owner holds after a snapshot batch and is read: they may go on.
  virtual void release() {}
  /// The model after a checkpoint batch (coordinator_options::checkpoint_every).
  /// `first_time`: false when a batch replayed after a rewind is checkpointed again.
  virtual void checkpoint(const stream_point& at, factor_model model, bool first_time);
};

/// What the coordinator does beyond the graph, with defaults.
struct coordinator_options {
  std::size_t max_in_flight = 2;     ///< batches between the source and completion
  std::size_t history_limit = 0;     ///< see engine_options::history_limit
  std::size_t checkpoint_every = 0;  ///< snapshot every n-th batch for the driver; 0: none
  /// The owners hold after a snapshot batch until release() (one process, views): a batch
  /// pulled meanwhile waits here, not routed, since the graph could not start it anyway;
  /// its latency then counts from when the graph is free, and an evaluated batch does
  /// not make the next one's latency include its evaluation.
  bool hold_after_snapshot = false;
};

class coordinator {
 public:
  /// Continues the running mean from `g.seed_model` if there is one. `driver` must
  /// outlive the coordinator.
  coordinator(streaming_graph g, const coordinator_options& o, round_driver& driver);

  /// Drives rounds until `limit` batches were pulled and completed, `stop` returns true
  /// for a completed batch, or the source ends; batches to route again (rewind) go first
  /// and do not count against `limit`. run() is drive(max), run_n(n) is drive(n).
  result<run_summary> drive(std::size_t limit, const stop_predicate& stop,
                            const batch_callback& on_batch);

  /// From the source: a batch, the end, a failure (the run returns it once the batches in
  /// flight have completed).
  void on_pulled(rating_batch b);
  void on_end();
  void on_source_failed(error e);
  /// From the partition step and the owners: a batch routed, applied by one owner.
  void on_routed(const partition_done& d);
  void on_owner_done(const owner_done& d);
  /// From an owner after a snapshot batch: its shard copied, or (in one process) viewed.
  void on_parts(shard_parts p);
  void on_view(const shard_view& v);
  /// The graph cannot continue (an actor died, a stall, a rejected frame). The first
  /// error is kept.
  void fail(error e);

  /// Back to `p` (a checkpoint whose model fresh owners were loaded with): forgets the
  /// batches in flight, stamps the next batch p.batches + 1 with p's mean, drops the
  /// history after p and routes `again` (the batches since p), then any batch pulled but
  /// not routed yet, before pulling again. Fresh owners count batches from 0: their
  /// parts are numbered from p. Batches completed again were reported before: they are
  /// recorded in history but do not call the callbacks.
  void rewind(const stream_point& p, std::deque<rating_batch> again);

  /// The model from every shard's parts with the running mean now (a snapshot between
  /// runs).
  result<factor_model> assemble(const std::vector<shard_parts>& users,
                                const std::vector<shard_parts>& items) const;
  /// The same from the shards' tables where they are (their owners holding).
  result<factor_model> assemble(const std::vector<shard_columns>& users,
                                const std::vector<shard_columns>& items) const;

  const std::optional<error>& broken() const noexcept { return broken_; }
  bool finished() const noexcept { return ended_; }
  const std::vector<batch_metrics>& history() const noexcept { return history_; }
  const streaming_graph& graph() const noexcept { return graph_; }
  /// Batches completed (the model's batch count).
  std::uint64_t completed() const noexcept { return completed_; }
  /// The 1-based batch the job works on: the oldest in flight, else the next.
  std::uint64_t current_batch() const noexcept;
  /// Batches waiting to be routed again after a rewind.
  std::size_t backlog() const noexcept { return backlog_.size(); }
  std::size_t in_flight() const noexcept { return in_flight_.size(); }

 private:
  using clock = std::chrono::steady_clock;

  /// A batch between routing and completion.
  struct flight {
    batch_metrics m;
    clock::time_point start;
    batch_stamp stamp;
    bool routed = false;
    bool evaluate = false;    ///< evaluated after this batch
    bool publish = false;     ///< on_model gets the model after this batch
    bool checkpoint = false;  ///< the driver checkpoints the model after this batch
    std::vector<std::uint8_t> user_done, item_done;  ///< per shard: reported
    std::size_t owners_done = 0;
    std::vector<shard_parts> users, items;           ///< the snapshot as copies
    std::vector<shard_view> user_views, item_views;  ///< the snapshot in place
  };

  /// One drive(): what it counts and whom it tells.
  struct run_state {
    run_summary sum;
    std::size_t limit = 0;
    std::size_t started = 0;  ///< batches pulled and arrived
    bool stop = false;
    std::optional<error> failed;  ///< the source failed
    const stop_predicate* stop_when = nullptr;
    const batch_callback* on_batch = nullptr;
  };

  void fill();
  /// With hold_after_snapshot: a snapshot batch is in flight, so route nothing new.
  bool holding() const noexcept;
  void answered();
  bool first_shard(const flight& f, recflow::side side, std::uint32_t shard);
  void route(rating_batch b);
  bool wants_publish(clock::time_point now);
  flight* find(std::uint64_t batch, const char* what);
  void try_complete(std::uint64_t batch);
  void after_snapshot(flight& f);
  void hand_over(flight& f, factor_model model);
  void record(const batch_metrics& m);
  void report(const batch_metrics& m);

  streaming_graph graph_;
  coordinator_options opts_;
  round_driver* driver_;

  double mu_ = 0.0;
  std::uint64_t mu_count_ = 0;
  std::uint64_t offset_ = 0;       ///< ratings stamped
  std::uint64_t stamped_ = 0;      ///< batches stamped
  std::uint64_t batch_base_ = 0;   ///< batches the owners started from (they count from 0)
  std::uint64_t completed_ = 0;
  std::uint64_t reported_ = 0;     ///< the last batch handed to the callbacks
  std::size_t pulls_ = 0;          ///< batches asked of the source, not yet answered
  bool ended_ = false;
  std::optional<error> broken_;
  std::map<std::uint64_t, flight> in_flight_;
  /// To route before pulling again: batches to route again (rewind), and batches pulled
  /// while holding().
  std::deque<rating_batch> backlog_;
  std::vector<batch_metrics> history_;
  publish_pacer publish_;  ///< when the last published batch was routed
  run_state run_;
};

}  // namespace recflow
