/// Batch ALS across nodes: the user and item blocks of train_als_graph placed on
/// `recflow node` processes (round robin, as the streaming owners), the driver holding
/// the coordinator.
///
///   auto m = train_als_cluster(train, als_params{.rank = 10},
///                              {.nodes = {{"10.0.0.1", 4242}, {"10.0.0.2", 4242}}});
///
/// The driver lays the blocks out as the local graph does, sends each node its blocks'
/// layouts, mean and initial rows as validated blobs (graph/als_wire.hpp), and runs the
/// same sweeps; every half-iteration the blocks send each other their rows as wire
/// frames directly, node to node. The model equals train_als_graph's (and train_als's)
/// bit for bit: the same solver on the same values in the same order.
///
/// Failures: the driver monitors every node and block; a node that dies or whose
/// connection closes stops the job with "lost node HOST:PORT at sweep N (...)", as does
/// one that answers nothing for the stall timeout. A frame a block rejects stops the job
/// with the block's message, naming the sending node. When the driver ends, each node
/// stops the job's blocks.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/cluster_engine.hpp"

namespace recflow {

/// How batch ALS runs across nodes, with defaults.
struct als_cluster_options {
  std::vector<node_endpoint> nodes{};  ///< at least one
  /// The nodes' shared secret, as cluster_options::secret; empty: no proof sent.
  std::string secret{};
  /// TLS files, as cluster_options::tls; empty: plain TCP.
  link_tls tls{};
  /// Blocks per side, partitioners and the stall timeout; `workers` are the driver's
  /// threads (the blocks run on the nodes' own).
  als_graph_options graph{};
  /// Connecting, the handshake and each block's spawn must finish within this time.
  std::chrono::milliseconds connect_timeout{10'000};
};

/// "at least one node is needed" and the graph options' checks.
result<void> validate(const als_cluster_options& o);

/// Which node holds which blocks (what `recflow batch --nodes --explain` prints).
std::string explain_als_cluster(const als_cluster_options& o);

/// Trains like train_als(train, p) with the blocks on `o.nodes`; the same model.
result<factor_model> train_als_cluster(const rating_table& train, const als_params& p,
                                       const als_cluster_options& o,
                                       const als_graph_progress& progress = {});

/// Trains like train_implicit_als(events, p) with the blocks on `o.nodes`; the same model
/// (every missing pair weighing 1). Each message between blocks also carries its
/// sender's exact Gram matrix (rank (rank + 1) 64-bit words).
result<factor_model> train_implicit_als_cluster(const rating_table& events,
                                                const implicit_params& p,
                                                const als_cluster_options& o,
                                                const als_graph_progress& progress = {});

/// Runs the sweeps of a prepared setup (prepare_als_graph, prepare_implicit_als_graph with
/// `o.graph`) with its blocks on `o.nodes`.
result<factor_model> run_als_cluster(const als_graph_setup& setup, const als_cluster_options& o,
                                     const als_graph_progress& progress = {});

}  // namespace recflow
