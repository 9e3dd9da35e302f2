/// Streaming implicit ALS across nodes: the owners of implicit_graph placed on `recflow
/// node` processes (round robin, as the streaming and batch ALS owners), the driver
/// holding the partition step and the coordinator (engine/implicit_driver.hpp, the loop
/// implicit_graph runs too).
///
///   auto c = implicit_cluster::make(implicit_stream_params{},
///                                   {.nodes = {{"10.0.0.1", 4242}, {"10.0.0.2", 4242}}}).value();
///   c->apply(events);                           // one micro-batch
///   factor_model m = c->snapshot().value();     // gathered from every owner
///
/// Every batch the driver sends each owner its events as a wire frame; for each solve the
/// owners of one side ask every owner of the other side for the rows their keys' events
/// read (ids and rows frames, owner to owner, graph/implicit_wire.hpp), then solve with
/// implicit_shard::solve. The Gram matrices travel as exact words, so the model equals
/// implicit_graph's and implicit_stream_trainer's bit for bit. A seed model is split into
/// shards on the driver and each owner's shard travels with its spawn.
///
/// Failures: the driver monitors every node and owner; a node that dies or whose
/// connection closes stops the job with "lost node HOST:PORT at batch N (...)", as does
/// one that answers nothing for the stall timeout; a frame an owner rejects stops it with
/// the owner's message, naming the sending node. Every later apply() fails. When the
/// driver ends, each node stops the job's owners.
#pragma once

#include <memory>
#include <string>
#include <span>

#include "recflow/engine/cluster_als.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// The nodes, their secret and TLS files, owners per side and partitioners (`graph`;
/// `workers` are the driver's threads), the connect timeout: batch ALS's options.
using implicit_cluster_options = als_cluster_options;

/// Which node holds which owners (what `recflow stream --implicit --nodes --explain`
/// prints).
std::string explain_implicit_cluster(const implicit_cluster_options& o);

class implicit_cluster final : public implicit_stream_updater {
 public:
  /// Validates, connects to every node, spawns the owners there (seeded from `seed`, as
  /// implicit_stream_trainer::make) and wires them up.
  static result<std::unique_ptr<implicit_cluster>> make(const implicit_stream_params& p,
                                                        const implicit_cluster_options& o,
                                                        const factor_model* seed = nullptr);
  ~implicit_cluster() override;

  /// The model as of the last batch, every owner's shard gathered (assemble_implicit_model).
  result<factor_model> snapshot(const implicit_model_order& order = {}) const override;

 private:
  struct impl;
  explicit implicit_cluster(std::unique_ptr<impl> p);
  result<void> step(std::span<const stamped_event> events, std::uint64_t batch) override;
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
