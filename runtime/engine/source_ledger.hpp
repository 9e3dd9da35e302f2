/// What the source itself contributed to each batch when a wrapper (e.g. ratings posted
/// to a server) may add ratings of its own: a checkpoint's mark must count only the
/// source's ratings and carry the source's position, or a resume would skip source
/// ratings that were never applied.
///
///   auto ledger = std::make_shared<source_ledger>(mark.position);
///   g.source = ledger->around(wrap(ledger->tap(source)));
///   ... on batch k (1-based in this run): ledger->source_ratings(k)
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "recflow/graph/source.hpp"

namespace recflow {

class source_ledger : public std::enable_shared_from_this<source_ledger> {
 public:
  /// `position`: where the source stands before its first batch (a resumed mark's).
  explicit source_ledger(std::string position = {}) : position_(std::move(position)) {}

  /// `inner` with every batch it delivers counted; positions and acknowledgements pass.
  std::shared_ptr<rating_source> tap(std::shared_ptr<rating_source> inner);
  /// `wrapped` (a wrapper around tap()) whose batches carry the source's position; an
  /// acknowledgement reaches the source once per position.
  std::shared_ptr<rating_source> around(std::shared_ptr<rating_source> wrapped);

  /// Source ratings in batches 1..`batch` of this run (batch 1-based, in stream order);
  /// forgets the batches before `batch`, so ask in increasing order.
  std::uint64_t source_ratings(std::uint64_t batch);

 private:
  friend class ledger_tap;
  friend class ledger_around;
  void delivered(const rating_batch& b);  ///< the source delivered `b`
  std::string emitted();                  ///< the wrapper emitted a batch: its position

  std::mutex mutex_;
  std::uint64_t pending_ = 0;   ///< source ratings since the last emitted batch
  std::uint64_t total_ = 0;     ///< source ratings in emitted batches
  std::string position_;        ///< the source's last position
  std::deque<std::uint64_t> through_;  ///< total_ after batch first_ + k
  std::uint64_t first_ = 1;
};

}  // namespace recflow
