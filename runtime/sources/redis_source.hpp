/// Redis Streams in and out: a source that reads a stream through a consumer group
/// (XREADGROUP), cuts it into micro-batches by count and by time, and acknowledges
/// (XACK) a batch's entries only once every owner has applied it; and a publisher that
/// replays ratings into a stream (`recflow publish`).
///
/// An entry holds the fields `user`, `item`, `rating` and optionally `timestamp`; an
/// entry with the field `eos` ends the stream (`recflow publish` appends one unless told
/// not to). Anything else is a dead letter: counted, added to the dead-letter stream
/// (`STREAM:dead` by default) with the entry id and the reason, acknowledged, and never
/// trained on. A batch's position is the id of the last entry it covers; resuming after
/// a position moves the group there (XGROUP SETID), so every entry after it is read
/// again whether or not it was acknowledged: with checkpoints, nothing is lost and
/// nothing is applied twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "recflow/graph/source.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_client.hpp"

namespace recflow {

/// Where a stream is: `redis://HOST:PORT/STREAM`.
struct redis_stream_address {
  host_port server;
  std::string stream;
};
result<redis_stream_address> parse_redis_url(std::string_view url);

/// How the Redis source reads, with defaults.
struct redis_source_options {
  redis_stream_address at{};
  std::string group = "recflow";     ///< consumer group (created at the stream's start if missing)
  std::string consumer = "trainer";  ///< this reader's name in the group
  std::size_t max_ratings = 1000;    ///< a batch ends after this many ratings...
  std::chrono::milliseconds interval{0};  ///< ...or this long after its first entry (0: count only)
  std::chrono::milliseconds idle_timeout{0};  ///< end after this long with no entry (0: wait for eos)
  rating_scale scale{0.5, 5.0};      ///< valid ratings; others are dead letters
  std::string dead_letter_stream{};  ///< empty: STREAM + ":dead"
  std::shared_ptr<dead_letters> dead{};  ///< the dead-letter count (created if null)
};

/// "batch size or interval needed" and friends.
result<void> validate(const redis_source_options& o);

/// The source; it connects on first use, so errors show up in next() or resume_after().
std::shared_ptr<rating_source> redis_source(redis_source_options o);

/// How `recflow publish` writes, with defaults.
struct redis_publish_options {
  redis_stream_address at{};
  double rate = 0.0;             ///< ratings per second; 0 = as fast as the server takes them
  bool end_marker = true;        ///< append an `eos` entry at the end
  std::size_t pipeline = 256;    ///< entries sent before waiting for their replies
};

/// What a publish did.
struct redis_publish_report {
  std::uint64_t published = 0;
  double seconds = 0.0;
  std::string last_id;
};

/// Appends `events` to the stream in order (XADD with server-assigned ids), paced at
/// `o.rate`. `on_sent(n)` is called after the first n entries were acknowledged by the
/// server.
result<redis_publish_report> publish_ratings(const redis_publish_options& o,
                                             std::span<const rating_event> events,
                                             const std::function<void(std::uint64_t)>& on_sent = {});

}  // namespace recflow
