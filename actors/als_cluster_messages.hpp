/// The messages of batch ALS across processes: the request that spawns one ALS block
/// on a node. The block's layout, mean and initial rows travel as one validated blob
/// (graph/als_wire.hpp); the parameters as a small struct. Registered by
/// add_cluster_message_types in every process of a cluster.
///
///   driver -> node: als_block_spec  ->  node -> driver: (block actor or null, error text)
#pragma once

#include <caf/all.hpp>

#include "recflow/actors/als_block_actor.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/implicit_als.hpp"

namespace recflow {

/// Driver -> node: spawn one ALS block for the job coordinated by `coordinator`.
struct als_block_spec {
  als_params params;
  wire_frame layout;   ///< wire::encode_als_layout: the layout, mu and initial rows
  caf::actor coordinator;  ///< reports go here; its loss ends the job on the node
  bool implicit = false;   ///< implicit ALS with `implicit_als` (`params` unused)
  implicit_params implicit_als{};

  /// What the block solves.
  als_block_params block_params() const {
    return implicit ? als_block_params{implicit_als} : als_block_params{params};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, als_params& x) {
  return f(caf::meta::type_name("als_params"), x.rank, x.iterations, x.lambda, x.lambda_bias,
           x.weighted_lambda, x.lambda_exponent, x.biases, x.seed, x.init_stddev, x.method);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, implicit_params& x) {
  return f(caf::meta::type_name("implicit_params"), x.rank, x.iterations, x.lambda,
           x.lambda_exponent, x.alpha, x.confidence, x.epsilon, x.solver, x.cg_steps, x.seed,
           x.init_stddev, x.weighting, x.bm25_k1, x.bm25_b, x.missing_exponent,
           x.recency_boost, x.recency_half_life);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, als_block_spec& x) {
  return f(caf::meta::type_name("als_block_spec"), x.params, x.layout, x.coordinator,
           x.implicit, x.implicit_als);
}

/// Registers als_block_spec, als_params and the ALS block messages (als_block_done,
/// als_block_parts) with `cfg`.
void add_als_cluster_message_types(caf::actor_system_config& cfg);

}  // namespace recflow
