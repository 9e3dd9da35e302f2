/// Sources: streams of micro-batches that end with `std::nullopt`, plus adapters for an
/// in-memory rating set, a rating file, a seeded synthetic generator and any callable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/graph/batch.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// What a broker source has not finished with (for monitoring): entries delivered to this
/// reader and not yet acknowledged, and entries not delivered yet when the broker knows;
/// and the reader's own counts since it started.
struct source_backlog {
  std::uint64_t pending = 0;
  std::optional<std::uint64_t> unread{};
  std::uint64_t failed_acks = 0;  ///< entries whose acknowledgement failed (retried later)
  std::uint64_t reconnects = 0;   ///< connections made again after one dropped
  std::uint64_t claimed = 0;      ///< entries taken over from other consumers and applied
};

/// A stream of micro-batches. `next()` returns the next batch, `std::nullopt` at the end
/// of the stream, or an error if the stream broke (the engine also turns an exception
/// thrown by `next()` into an error). The engine calls `next()` from one thread at a time.
class rating_source {
 public:
  virtual ~rating_source() = default;
  virtual result<std::optional<rating_batch>> next() = 0;
  /// Continue after `position` (a batch's position from an earlier run, as a checkpoint
  /// recorded it): the next batch starts with the first record after it. Called once,
  /// before the first next(). The default refuses: a source that cannot rewind says so.
  virtual result<void> resume_after(const std::string& position);
  /// Every owner has applied the batch whose position is `position` (in stream order).
  /// A broker source acknowledges here (Redis XACK, a Kafka offset commit). Called from
  /// the engine's driving thread, possibly while next() runs on the source's thread. The
  /// default does nothing.
  virtual void applied(const std::string& position);
  /// How far behind its broker this reader is (Redis: the consumer group's pending
  /// entries and lag), asking the broker only if the last answer is older than
  /// `max_age` (0: ask now). From any thread; may wait for a round trip. The default,
  /// for sources without a broker: nothing.
  virtual std::optional<source_backlog> backlog(std::chrono::milliseconds max_age);
};

/// How an adapter cuts a stream of ratings into micro-batches: a batch ends after
/// `max_ratings` ratings, or (when `interval` > 0) when the next rating's timestamp
/// leaves the event-time window [start, start + interval) opened by the batch's first
/// rating, whichever comes first: Spark's batch interval, measured in stream time.
struct batch_policy {
  std::size_t max_ratings = 1000;  ///< 0 = no count limit (then interval must be > 0)
  std::int64_t interval = 0;       ///< seconds of event time per batch; 0 = by count only
};

/// "batch policy needs a count or an interval" and friends.
result<void> validate(const batch_policy& p);

/// A source over a callable: `f()` returns `std::optional<rating_batch>` (nullopt ends
/// the stream) or `result<std::optional<rating_batch>>` (to report errors).
template <class F>
std::shared_ptr<rating_source> source_from(F f) {
  struct callable_source final : rating_source {
    explicit callable_source(F fn) : fn_(std::move(fn)) {}
    result<std::optional<rating_batch>> next() override { return fn_(); }
    F fn_;
  };
  using out = std::invoke_result_t<F&>;
  static_assert(std::is_convertible_v<out, result<std::optional<rating_batch>>>,
                "a source callable returns std::optional<rating_batch> or a result of it");
  return std::make_shared<callable_source>(std::move(f));
}

/// Replays `events` in order, cut by `policy`.
std::shared_ptr<rating_source> memory_source(std::vector<rating_event> events,
                                             batch_policy policy = {});
/// Replays the ratings of `table` in the order they are stored, cut by `policy`.
std::shared_ptr<rating_source> memory_source(const rating_table& table, batch_policy policy = {});

/// Streams `path` through the chunked rating_reader (same formats, detection and
/// strict/lenient modes as read_ratings), cut by `policy`: memory holds the pending
/// batch (and the reader's 256 KiB block), never the whole file. The file is opened by the
/// first `next()`; a bad line (strict mode) fails the `next()` that reaches it with
/// `FILE:LINE: reason`, after every earlier batch was returned.
std::shared_ptr<rating_source> file_source(std::string path, ingest_options opts = {},
                                           batch_policy policy = {});

/// A seeded synthetic stream with planted factors: each rating picks a uniform user in
/// 1..users and item in 1..items and rates it mu + b_u + b_i + U_u.P_i + noise, clamped
/// to the scale. Same parameters, same stream.
struct synthetic_params {
  std::uint32_t users = 1000;
  std::uint32_t items = 500;
  std::uint64_t ratings = 100'000;  ///< total ratings in the stream
  std::size_t batch_size = 1000;
  int planted_rank = 10;            ///< rank of the planted factors (any training rank)
  double mu = 3.5;
  double bias_stddev = 0.3;
  double signal_stddev = 0.6;       ///< stddev of U_u.P_i
  double noise = 0.3;
  rating_scale scale{1.0, 5.0};
  std::uint64_t seed = 7;
};
std::shared_ptr<rating_source> synthetic_source(const synthetic_params& p);

}  // namespace recflow
