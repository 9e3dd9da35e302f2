/// Checkpoints of a stream: the model every N batches, with the stream position it
/// covers, so that a restarted run continues exactly where the model stands.
///
/// A checkpoint is a model file (model_io: atomic save, XXH64 checksum) named
/// `ckpt-<batches, 12 digits>.rfm` in the checkpoint folder, whose metadata holds
/// `checkpoint_batches`, `checkpoint_ratings` (ratings applied since the stream began)
/// and `stream_position` (the source's position after the last applied batch; may be
/// empty). The newest `keep` checkpoints are kept. Loading takes the newest that loads
/// cleanly; one that fails (torn, checksum, missing keys) is reported and the previous
/// one is used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/model_io.hpp"

namespace recflow {

/// Where and how often to checkpoint, with defaults.
struct checkpoint_options {
  std::string dir;          ///< the folder (created if missing); empty = no checkpoints
  std::size_t every = 10;   ///< batches between checkpoints
  std::size_t keep = 3;     ///< newest checkpoints kept (at least 1)
};

/// "checkpoint interval must be positive, got 0" and friends.
result<void> validate(const checkpoint_options& o);

/// What a checkpoint covers.
struct stream_mark {
  std::uint64_t batches = 0;  ///< batches applied since the stream began
  std::uint64_t ratings = 0;  ///< ratings applied since the stream began
  std::string position;       ///< the source's position after the last applied batch
  friend bool operator==(const stream_mark&, const stream_mark&) = default;
};

/// Writes `m` with `mark` (and `extra` metadata) as the checkpoint of `mark.batches`,
/// atomically, then removes all but the newest `o.keep`. Returns the file written.
result<std::string> write_checkpoint(const checkpoint_options& o, const factor_model& m,
                                     const stream_mark& mark, model_metadata extra = {});

/// A checkpoint read back.
struct loaded_checkpoint {
  factor_model model;
  stream_mark mark;
  std::string path;
  std::vector<std::string> rejected;  ///< "FILE: reason" of newer checkpoints that failed
};

/// The newest good checkpoint in `dir`; nothing when the folder holds none (or does not
/// exist). Newer checkpoints that fail to load are listed in `rejected`; if every one
/// fails, that is an error naming the folder and the newest failure.
result<std::optional<loaded_checkpoint>> load_latest_checkpoint(const std::string& dir);

/// The checkpoint files in `dir`, oldest first.
std::vector<std::string> list_checkpoints(const std::string& dir);

}  // namespace recflow
