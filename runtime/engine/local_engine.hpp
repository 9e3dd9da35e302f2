/// The local engine: runs a streaming_graph on a CAF actor system in this process.
///
///   auto engine = local_engine::make(graph, {.workers = 2}).value();
///   engine->run_n(10);                       // ten micro-batch rounds
///   factor_model m = engine->snapshot().value();
///
/// A micro-batch round is explicit: the coordinator (engine/coordinator.hpp, on the
/// calling thread) stamps a batch with its number and the new global mean, the partition
/// routes it, the owners run every pass, and the round is complete when every owner has
/// reported. At most `max_in_flight` batches are between the source and completion
/// (backpressure: the source is only asked for a batch when there is room). After a
/// batch that is evaluated or published, the owners hold and send views of their shards
/// (no copies); the user owners then compute the validation error in place, in parallel
/// (actors/shard_eval.hpp), before the coordinator releases them.
///
/// Equivalence with the single-threaded streaming_trainer (batch_gradient mode): every
/// key's gradients are summed in batch order by the owner of the key, with the kernels
/// the trainer uses (stream_kernel::with_rank), against the same pass-start snapshot, so
/// the model is bit-identical to the trainer's built with the same flags, for any number
/// of partitions. The tests allow 1e-9 relative; the largest difference they see is 0. A
/// build with other flags (FMA contraction, SIMD width) differs by reassociation only,
/// about 1e-12 relative per batch.
#pragma once

#include <cstdint>
#include <memory>

#include "recflow/engine/stream_engine.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// A batch whose ratings x rank x passes is below this runs all its owners on one worker
/// (under the affinity scheduler, scheduler.hpp); larger batches spread them. MovieLens
/// 100K in batches of 1,000 at rank 10 (60,000) trains faster on one core; batches of
/// 1,000 at rank 50 (300,000) already gain from two (docs/benchmarks.md).
inline constexpr std::uint64_t pack_work = 100'000;

class local_engine : public stream_engine {
 public:
  /// Validates `g` and `o`, starts the actor system and spawns the graph's actors. The
  /// source runs on its own (detached) thread; destroying the engine waits for a
  /// `next()` in progress to return.
  static result<std::unique_ptr<local_engine>> make(streaming_graph g,
                                                    const engine_options& o = {});
  ~local_engine();

  // run(), run_n(), run_until(), history(), finished() and graph(): see stream_engine.

  /// The model after the last completed batch, assembled from every shard.
  result<factor_model> snapshot();

 private:
  struct impl;
  explicit local_engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
