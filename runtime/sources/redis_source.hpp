/// Redis Streams in and out: a source that reads a stream through a consumer group
/// (XREADGROUP), cuts it into micro-batches by count and by time, and acknowledges
/// (XACK) a batch's entries only once every owner has applied it; and a publisher that
/// replays ratings into a stream (`recflow publish`).
///
/// An entry holds the fields `user`, `item`, `rating` and optionally `timestamp`.
/// Anything else is a dead letter: counted, added to the dead-letter stream
/// (`STREAM:dead` by default, capped with MAXLEN ~) with the entry id and the reason,
/// acknowledged, and never trained on. An entry with a field `eos` is a dead letter too:
/// the stream ends only when the control key (`STREAM:eos` by default, which `recflow
/// publish` sets after its last entry) exists and every entry has been read, so a producer
/// that may only add entries cannot end training.
///
/// A batch's position is the id of the last entry it covers; resuming after a position
/// moves the group there (XGROUP SETID), so every entry after it is read again whether or
/// not it was acknowledged: with checkpoints, nothing is lost and nothing is applied twice.
///
/// When the connection drops (Redis restarted), the source connects again with an
/// exponential back-off and first reads the entries the group delivered to it that it
/// never saw (XREADGROUP from id 0), skipping those it has; with `claim_idle`, it takes
/// over entries other consumers left pending that long (XAUTOCLAIM) and applies them once.
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
  redis_credentials auth{};          ///< AUTH (an ACL user); no password: no AUTH
  std::string group = "recflow";     ///< consumer group (created at the stream's start if missing)
  std::string consumer = "trainer";  ///< this reader's name in the group
  std::size_t max_ratings = 1000;    ///< a batch ends after this many ratings...
  std::chrono::milliseconds interval{0};  ///< ...or this long after its first entry (0: count only)
  std::chrono::milliseconds idle_timeout{0};  ///< end after this long with no entry (0: wait for the end key)
  rating_scale scale{0.5, 5.0};      ///< valid ratings; others are dead letters
  record_kind kind = record_kind::rating;  ///< or events: fields user, item, [weight], [timestamp]
  std::string end_key{};             ///< the control key that ends the stream; empty: STREAM + ":eos"
  std::string dead_letter_stream{};  ///< empty: STREAM + ":dead"
  std::size_t dead_letter_max = 100'000;  ///< MAXLEN ~ of the dead-letter stream (0: no cap)
  std::chrono::milliseconds reconnect_first{50};   ///< first pause before connecting again...
  std::chrono::milliseconds reconnect_max{2000};   ///< ...doubling up to this
  std::chrono::milliseconds reconnect_limit{60'000};  ///< give up after trying this long (0: at once)
  std::chrono::milliseconds claim_idle{0};  ///< XAUTOCLAIM entries pending this long (0: never)
  std::shared_ptr<dead_letters> dead{};  ///< the dead-letter count (created if null)
  /// Notes for people (a reconnect, a failed acknowledgement); null: "recflow: ..." on stderr.
  std::function<void(const std::string&)> log{};
};

/// The control key of a stream: `key`, or STREAM + ":eos" when it is empty.
std::string redis_end_key(const redis_stream_address& at, const std::string& key);

/// "batch size or interval needed" and friends.
result<void> validate(const redis_source_options& o);

/// The source; it connects on first use, so errors show up in next() or resume_after().
std::shared_ptr<rating_source> redis_source(redis_source_options o);

/// How `recflow publish` writes, with defaults.
struct redis_publish_options {
  redis_stream_address at{};
  double rate = 0.0;             ///< ratings per second; 0 = as fast as the server takes them
  bool end_marker = true;        ///< set the end key at the end (to the last entry's id)
  std::size_t pipeline = 256;    ///< entries sent before waiting for their replies
  redis_credentials auth{};      ///< AUTH (an ACL user); no password: no AUTH
  std::string end_key{};         ///< empty: STREAM + ":eos"
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
