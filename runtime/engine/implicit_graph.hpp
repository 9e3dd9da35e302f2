/// Streaming implicit ALS on the actor graph: `partitions` owners per side on a local CAF
/// actor system, each holding one shard of its side's rows, events and Gram matrix
/// (actors/implicit_owner.hpp). A batch is partitioned by user and by item; every owner
/// takes its events; then the user owners solve their batch's users against the item
/// shards and the item Gram matrix, and the item owners theirs against the user shards
/// and the user Gram matrix just summed. The model equals implicit_stream_trainer's bit
/// for bit, for any number of partitions and any partitioners.
///
///   auto g = implicit_graph::make(implicit_stream_params{}, {.partitions = 2}).value();
///   g->apply(events);                  // one micro-batch
///   factor_model m = g->model();
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>

#include "recflow/graph/partitioner.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How the graph runs, with defaults.
struct implicit_graph_options {
  std::size_t partitions = 2;  ///< owners per side
  std::size_t workers = 2;     ///< CAF scheduler threads
  /// Shard of a user / an item by external id; empty: hash partitioning (the item side
  /// salted), as the streaming graph does. Must have `partitions` partitions.
  partitioner user_partitioner{}, item_partitioner{};
  /// A batch fails with "no progress for N ms" if no owner reports for this long.
  std::chrono::milliseconds stall_timeout{120'000};
};

/// "partitions must be positive, got 0" and friends.
result<void> validate(const implicit_graph_options& o);

class implicit_graph final : public implicit_stream_updater {
 public:
  /// Validates, spawns the owners and loads `seed` (as implicit_stream_trainer::make).
  static result<std::unique_ptr<implicit_graph>> make(const implicit_stream_params& p,
                                                      const implicit_graph_options& o = {},
                                                      const factor_model* seed = nullptr);
  ~implicit_graph() override;

  /// One batch (see implicit_stream_updater). After an owner failed or stalled, this and
  /// every later call fail.
  result<void> apply(std::span<stamped_event> events) override;
  using implicit_stream_updater::model;
  factor_model model(const implicit_model_order& order) const override;
  std::uint64_t batches() const noexcept override;

 private:
  struct impl;
  explicit implicit_graph(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
