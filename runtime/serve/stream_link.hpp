/// Serving while training: joins a training stream to a query_service.
///
/// - `wrap(source)`: ratings POSTed since the last batch join the next micro-batch (after
///   the source's own ratings; once the source has ended they form batches of their own,
///   until stop() or the engine stops asking); every batch's (user, item) pairs are
///   recorded, so a published snapshot excludes from top-N what the stream has trained on.
/// - `on_model(batch, model)`: the engine hands over each consistent model; a publisher
///   thread adds the rated-items index and publishes it (latest wins: if the publisher
///   falls behind, intermediate versions are skipped, training never waits for it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "recflow/graph/source.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::serve {

class stream_link {
 public:
  /// Makes `svc` send posted ratings into this link and starts the publisher thread.
  explicit stream_link(query_service& svc);
  ~stream_link();
  stream_link(const stream_link&) = delete;
  stream_link& operator=(const stream_link&) = delete;

  /// The training source with posted ratings merged in (see the file comment).
  std::shared_ptr<rating_source> wrap(std::shared_ptr<rating_source> inner);
  /// The stream continues from `seed` (a trained model): what its users rated stays
  /// excluded from their top-N. Call before the stream starts.
  void seed_rated(const factor_model& seed);
  /// The stream continues a run of `batches` batches (a resume): the models handed over
  /// are numbered from batches + 1. Call before the stream starts, after seed_rated().
  void start_at(std::uint64_t batches);
  /// Hands over the model after `batch` (1-based); returns at once.
  void on_model(std::uint64_t batch, factor_model&& m);
  /// Ends the stream at the next batch boundary (the source then reports its end).
  void request_stop() { stop_.store(true); }
  /// Whether request_stop() was called.
  bool stop_requested() const { return stop_.load(); }
  /// Waits until the last model handed over is published.
  void flush();
  /// Ratings posted and not yet taken into a batch.
  std::size_t pending() const;

 private:
  void publisher();
  result<std::optional<rating_batch>> next(rating_source& inner);

  query_service& svc_;
  std::atomic<bool> stop_{false};
  bool inner_ended_ = false;

  mutable std::mutex queue_mutex_;
  std::vector<rating_event> queue_;  ///< posted, waiting for the next batch

  // The log of (user, item) pairs the publisher has not indexed yet, so it stays as long as
  // the batches between two publishes, however long the stream runs. Pair numbers count
  // from the first pair ever logged; pairs_[0] is pair number pairs_base_.
  std::mutex log_mutex_;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs_;  ///< (user, item), not yet indexed
  std::uint64_t pairs_base_ = 0;                               ///< pair number of pairs_[0]
  std::deque<std::uint64_t> batch_end_{0};  ///< pairs logged after batch batch_base_ + k
  std::uint64_t batch_base_ = 0;            ///< batch number of batch_end_[0]
  std::uint64_t seed_pairs_ = 0;            ///< pairs from the seed model

  std::mutex slot_mutex_;
  std::condition_variable slot_cv_;
  std::optional<std::pair<std::uint64_t, factor_model>> slot_;
  std::uint64_t published_ = 0, handed_ = 0;
  bool quit_ = false;

  // Publisher thread only: what each user rated, by model dense indices (stable: the
  // engine's models only ever append keys), up to pair `indexed_` of the log.
  std::vector<std::vector<index_t>> rated_by_user_;
  std::uint64_t indexed_ = 0;  ///< pair number
  std::thread thread_;
};

}  // namespace recflow::serve
