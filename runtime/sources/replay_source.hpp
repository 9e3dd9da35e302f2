/// Timed replay: a rating file replayed in timestamp order at a chosen speed, so a run
/// shows the model learning over (compressed) time. `speed` 86400 replays one day of
/// ratings per second; 0 replays as fast as the graph takes them. Batches are cut by
/// count and by event-time interval (batch_policy). Positions are "rating:N" (ratings
/// replayed so far, in timestamp order), so a replay resumes exactly after a checkpoint.
#pragma once

#include <memory>
#include <string>

#include "recflow/data/ingest.hpp"
#include "recflow/graph/source.hpp"

namespace recflow {

/// How a file is replayed, with defaults.
struct replay_options {
  double speed = 86'400.0;  ///< event seconds per wall second; 0 = no pacing
  batch_policy policy{};    ///< batch by count and by event-time interval
};

/// Reads `path` (whole file, on the first next() or resume_after()), sorts it by
/// timestamp (stable: ties keep file order) and replays it paced at `o.speed`.
std::shared_ptr<rating_source> replay_source(std::string path, ingest_options ingest,
                                             replay_options o);

}  // namespace recflow
