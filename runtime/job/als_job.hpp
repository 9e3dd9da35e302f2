/// Batch ALS as `recflow batch` runs it: on the single-threaded reference loop, on the
/// actor graph in this process or with its blocks on `recflow node` processes (the same
/// model on each), k-fold cross-validation over every rating, and the metadata of the
/// saved model.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/ranking.hpp"

namespace recflow {

/// Where ALS (batch explicit or implicit, streaming implicit) trains, with defaults: the
/// single-threaded reference loop, the actor graph in this process, or its blocks (owners)
/// on `recflow node` processes. The model is the same on each.
struct als_placement {
  bool reference = false;              ///< the single-threaded loop instead of the actor graph
  als_graph_options graph{};           ///< blocks per side and workers of the graph
  std::vector<node_endpoint> nodes{};  ///< the graph's blocks on these nodes; empty: here
  std::string secret{};                ///< the nodes' shared secret (als_cluster_options)
  link_tls tls{};                      ///< TLS files of the node links (als_cluster_options)
};

/// Where and how batch ALS trains, with defaults.
struct als_job_options : als_placement {
  als_params als{};
};

/// Trains on `train` where `o` says; `on_sweep(iteration, train_rmse)` after each sweep.
result<factor_model> train_als_job(const rating_table& train, const als_job_options& o,
                                   const std::function<void(int, double)>& on_sweep = {});

/// Trains implicit ALS on `events` where `where` says (train_implicit_als,
/// train_implicit_als_graph or train_implicit_als_cluster); `on_sweep(iteration,
/// objective)` after each sweep.
result<factor_model> train_implicit_als_job(const rating_table& events, const implicit_params& p,
                                            const als_placement& where,
                                            const std::function<void(int, double)>& on_sweep = {});

/// What k-fold cross-validation measured.
struct cross_validation {
  std::vector<error_metrics> folds;  ///< each fold's test errors
  double rmse = 0.0;                 ///< over every fold's test ratings
  double mae = 0.0;
  std::size_t test_ratings = 0;      ///< in all folds
  std::size_t train_ratings = 0;     ///< per fold, on average
  ranking_metrics ranking{};         ///< weighted by the users each fold averaged over
};

/// Trains fold `fold`'s model on its training table.
using fold_trainer = std::function<result<factor_model>(const rating_table& train, int fold)>;

/// k-fold cross-validation over `train` and `test` together (seeded): `fit` trains each
/// fold, `on_fold` hears its test errors; each fold's ranking runs its scans through
/// `run` (e.g. thread_tasks(workers)). "--folds must be at least 2, got 1" below 2.
result<cross_validation> cross_validate(const rating_table& train, const rating_table& test,
                                        int folds, std::uint64_t seed,
                                        const ranking_options& ranking, const fold_trainer& fit,
                                        const std::function<void(int, const error_metrics&)>& on_fold = {},
                                        const task_runner& run = {});

/// The saved model's metadata (trainer "batch-als", the parameters, the test RMSE).
model_metadata als_metadata(const als_params& p, const std::string& data, const std::string& biases,
                            const std::string& engine, double test_rmse);

}  // namespace recflow
