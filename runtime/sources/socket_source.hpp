/// A TCP text source, as Spark's socketTextStream: connects to HOST:PORT and reads
/// newline-delimited ratings (`user,item,rating[,timestamp]`, or tab, space or "::"
/// separated), cut into micro-batches by count and by time. A malformed line is counted
/// as a dead letter with its reason and skipped. The stream ends when the peer closes
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
  std::chrono::milliseconds connect_timeout{5000};
  std::shared_ptr<dead_letters> dead{};   ///< the dead-letter count (created if null)
};

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
