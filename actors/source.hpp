/// Source actor: pulls micro-batches from a rating_source when the coordinator grants
/// credit (one `pull` per batch), so a slow graph never has more batches in flight than
/// the engine allows. Runs detached: a source may block on I/O without holding a worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "recflow/actors/messages.hpp"
#include "recflow/graph/source.hpp"

namespace recflow {

/// What one pull produced.
struct source_event {
  enum kind_t { batch, end, failed } kind = end;
  rating_batch ratings;  ///< when kind == batch
  error err{errc::io, {}};  ///< when kind == failed
};

/// The logic of the source step, callable without an actor system: wraps a rating_source,
/// turns exceptions into errors, and stays ended (or failed) once the stream ends.
class source_state {
 public:
  explicit source_state(std::shared_ptr<rating_source> src) : src_(std::move(src)) {}
  source_event pull();
  std::uint64_t batches() const noexcept { return batches_; }

 private:
  std::shared_ptr<rating_source> src_;
  std::uint64_t batches_ = 0;
  std::optional<source_event> final_;
};

/// Spawns the source actor; on each `pull` it sends `coordinator` a rating_batch,
/// `end_atom`, or a source_failed.
caf::actor spawn_source(caf::actor_system& sys, std::shared_ptr<rating_source> src,
                        caf::actor coordinator);

}  // namespace recflow
