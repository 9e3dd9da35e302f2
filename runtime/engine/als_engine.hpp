/// Batch ALS on the actor graph: P user blocks and P item blocks as factor owners on a
/// local CAF actor system, exchanging factor rows by Spark's in/out-block scheme.
///
///   auto m = train_als_graph(train, als_params{.rank = 10}, {.partitions = 4});
///
/// Each sweep the coordinator tells the item blocks to start; each item block sends
/// every user block the rows of exactly the items that block's users rated (each row at
/// most once per block), the user blocks solve their users and answer likewise, and the
/// item blocks solve their items and report. Every entity is solved with the solver of
/// train_als over its ratings in train_als's order, against the same values, with mu
/// fixed at the training mean: the model equals train_als's bit for bit with the same
/// build flags, for any number of partitions (the test allows 1e-9 relative).
///
/// Implicit ALS runs on the same blocks (train_implicit_als_graph): each message also
/// carries its sender's exact Gram matrix, so the model equals train_implicit_als's bit
/// for bit for any number of partitions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "recflow/actors/als_block.hpp"
#include "recflow/engine/graph_options.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// How batch ALS runs on the graph, with defaults: `partitions` blocks per side (validate()
/// in graph_options.hpp checks them).
using als_graph_options = owner_graph_options;

/// What one sweep did.
struct als_sweep_metrics {
  int iteration = 0;                 ///< 1-based
  double train_rmse = 0.0;           ///< unclamped, on every training rating (explicit ALS)
  double objective = 0.0;            ///< implicit ALS: implicit_objective after the sweep
  std::uint64_t item_rows_shipped = 0;  ///< item blocks -> user blocks (user half)
  std::uint64_t user_rows_shipped = 0;  ///< user blocks -> item blocks (item half)
  std::uint64_t messages = 0;        ///< block-to-block messages of the sweep
  double seconds = 0.0;              ///< wall time of the sweep
  double busy_seconds = 0.0;         ///< item blocks' handler time (summed)
  std::uint64_t wire_bytes = 0;      ///< frame bytes between processes (0 on one process)
};

struct als_block_done;
/// Adds an item block's report of a sweep to `m`, and its squared error to
/// `squared_error` (both ALS drivers, in one process and across nodes).
void add_block_report(als_sweep_metrics& m, double& squared_error, const als_block_done& d);

/// Called after each sweep.
using als_graph_progress = std::function<void(const als_sweep_metrics&)>;

/// The partitioners `o` resolves to (its own, or the hash defaults).
partitioner als_user_partitioner(const als_graph_options& o);
partitioner als_item_partitioner(const als_graph_options& o);

/// What train_als_graph lays out before any actor runs (train_als_cluster uses the same).
struct als_graph_setup {
  rating_blocks blocks;                          ///< the ratings by compact user and item
  std::shared_ptr<const factor_model> initial;   ///< train_als's initial model, compact indices
  std::shared_ptr<const als_block_plan> plan;    ///< every block of both sides
  als_block_params params;                       ///< what the blocks solve

  /// Item blocks that report each sweep: those with entities (implicit ALS: all).
  std::size_t reporting_blocks() const;
  /// Sets the sweep's score from the reports' summed `squared_error`: the training RMSE
  /// (explicit ALS) or the objective (implicit ALS).
  void score(als_sweep_metrics& m, double squared_error) const;
};
/// Validates `p`, `o` and `train` and builds the setup.
result<als_graph_setup> prepare_als_graph(const rating_table& train, const als_params& p,
                                          const als_graph_options& o);
/// The same for implicit ALS on events (weights as `rating::value`), from
/// implicit_training as train_implicit_als starts.
result<als_graph_setup> prepare_implicit_als_graph(const rating_table& events,
                                                   const implicit_params& p,
                                                   const als_graph_options& o);
/// Fills `m`'s rated-items index from the setup's blocks, as train_als does.
void finish_als_graph(const als_graph_setup& s, factor_model& m);

/// Trains like train_als(train, p) on the actor graph; the same model (ids, counts, mu,
/// biases, factors, rated-items index).
result<factor_model> train_als_graph(const rating_table& train, const als_params& p,
                                     const als_graph_options& o = {},
                                     const als_graph_progress& progress = {});

/// Trains like train_implicit_als(events, p) on the actor graph; the same model. Every
/// missing pair weighs 1 (missing_exponent 0).
result<factor_model> train_implicit_als_graph(const rating_table& events,
                                              const implicit_params& p,
                                              const als_graph_options& o = {},
                                              const als_graph_progress& progress = {});

/// Runs the sweeps of a prepared setup on the actor graph in this process.
result<factor_model> run_als_graph(const als_graph_setup& s, const als_graph_options& o,
                                   const als_graph_progress& progress = {});

}  // namespace recflow
