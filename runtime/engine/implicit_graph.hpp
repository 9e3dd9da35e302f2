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

#include "recflow/engine/graph_options.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How the graph runs, with defaults: `partitions` owners per side (validate() in
/// graph_options.hpp checks them).
using implicit_graph_options = owner_graph_options;

class implicit_graph final : public implicit_stream_updater {
 public:
  /// Validates, spawns the owners and loads `seed` (as implicit_stream_trainer::make).
  static result<std::unique_ptr<implicit_graph>> make(const implicit_stream_params& p,
                                                      const implicit_graph_options& o = {},
                                                      const factor_model* seed = nullptr);
  ~implicit_graph() override;

  // apply() and batches(): see implicit_stream_updater. After an owner failed or stalled,
  // every later apply() fails.
  /// The model as of the last batch (assemble_implicit_model, in `order`).
  factor_model model(const implicit_model_order& order = {}) const;
  result<factor_model> snapshot(const implicit_model_order& order = {}) const override {
    return model(order);
  }

 private:
  struct impl;
  explicit implicit_graph(std::unique_ptr<impl> p);
  result<void> step(std::span<const stamped_event> events, std::uint64_t batch) override;
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
