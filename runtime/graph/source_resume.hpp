/// Resuming a stream after a checkpoint: for sources without positions of their own
/// (memory, file, synthetic: they replay the same stream every time), skip what the
/// checkpoint already holds.
#pragma once

#include <cstdint>
#include <memory>

#include "recflow/graph/source.hpp"

namespace recflow {

/// A source over `inner` whose first `ratings` ratings are dropped: whole batches while
/// they fit, then the head of the batch that straddles the count (a checkpoint always
/// falls on a batch boundary, so with the same batch policy that never happens).
/// Positions and acknowledgements pass through to `inner`.
std::shared_ptr<rating_source> skip_ratings(std::shared_ptr<rating_source> inner,
                                            std::uint64_t ratings);

}  // namespace recflow
