/// Checkpoints of a stream: the model every N batches, with the stream position it
/// covers, so that a restarted run continues exactly where the model stands.
///
/// A checkpoint is a model file (model_io: atomic save, XXH64 checksum) named
/// `ckpt-<batches, 12 digits>.rfm` in the checkpoint folder, whose metadata holds
/// `checkpoint_batches`, `checkpoint_ratings` (ratings applied since the stream began)
/// and `stream_position` (the source's position after the last applied batch; may be
/// empty). The newest `keep` checkpoints are kept. Loading takes the newest that loads
/// cleanly; one that fails (torn, checksum, missing keys) is reported and the previous
/// one is used. A writer holds `checkpoint_lock` on the folder; temporary files of a save
/// carry the writer's pid and an unpredictable suffix, and only those of this process or
/// of a process that no longer runs are removed as debris.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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

/// The right to write checkpoints into a folder: an exclusive lock (flock) on the file
/// `DIR/ckpt.lock`, which holds the writer's pid, kept until this object goes (or the
/// process ends, however it ends). A stream with checkpoints holds it for its whole run,
/// so two writers never interleave or remove each other's files.
class checkpoint_lock {
 public:
  /// Creates `dir` if missing and takes the lock. Fails at once, naming the folder and
  /// the holder's pid, when another writer (another process, or another lock in this
  /// one) holds it.
  static result<checkpoint_lock> acquire(const std::string& dir);
  checkpoint_lock(checkpoint_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  checkpoint_lock& operator=(checkpoint_lock&& o) noexcept;
  checkpoint_lock(const checkpoint_lock&) = delete;
  checkpoint_lock& operator=(const checkpoint_lock&) = delete;
  ~checkpoint_lock();

 private:
  explicit checkpoint_lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace recflow
