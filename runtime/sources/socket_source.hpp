/// A TCP text source, as Spark's socketTextStream: connects to HOST:PORT and reads
/// newline-delimited ratings (`user,item,rating[,timestamp]`, or tab, space or "::"
/// separated), cut into micro-batches by count and by time. A malformed line, or one
/// longer than `max_line`, is counted as a dead letter with its reason and skipped. The
/// connect and, when set, the wait for data are bounded in time. The stream ends when the peer closes
/// the connection. Positions are "line:N"; a socket cannot replay, so it cannot resume.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <memory>
#include <string>
#include <string_view>

#include "recflow/graph/source.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_client.hpp"

namespace recflow {

/// How the socket source reads, with defaults.
struct socket_source_options {
  host_port peer{};                       ///< where the lines come from
  std::size_t max_ratings = 1000;         ///< a batch ends after this many ratings...
  std::chrono::milliseconds interval{0};  ///< ...or this long after its first line (0: count only)
  rating_scale scale{0.5, 5.0};           ///< valid ratings; others are dead letters
  record_kind kind = record_kind::rating;  ///< or events `user item [weight] [timestamp]`
  std::chrono::milliseconds connect_timeout{5000};  ///< a connect not done by then fails
  /// The stream fails (an error naming the peer) after this long without a byte from it
  /// while the source waits for data (0: waits for ever; a quiet stream is no error).
  std::chrono::milliseconds read_timeout{0};
  /// A line longer than this many bytes (without its newline) is a dead letter naming the
  /// peer and the line number; its bytes are dropped as they arrive, never held.
  std::size_t max_line = 64 * 1024;
  std::shared_ptr<dead_letters> dead{};   ///< the dead-letter count (created if null)
};

/// "max line must be positive" and friends.
result<void> validate(const socket_source_options& o);

/// `tcp://HOST:PORT`.
result<host_port> parse_tcp_url(std::string_view url);

/// The source; it connects on the first next().
std::shared_ptr<rating_source> socket_source(socket_source_options o);

/// The other end, for trying it out (`recflow publish --tcp HOST:PORT`): listens on
/// `at` (port 0: any free port, passed to `on_listening`), waits for one client, sends it
/// `events` as `user,item,rating,timestamp` lines at `rate` ratings/s (0: at once) and
/// closes. Returns the lines sent.
result<std::uint64_t> serve_ratings_tcp(const host_port& at, std::span<const rating_event> events,
                                        double rate,
                                        const std::function<void(int port)>& on_listening = {});

}  // namespace recflow
