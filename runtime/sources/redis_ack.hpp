/// The acknowledging side of the Redis source: its own connection (the engine acknowledges
/// from its thread while the reader waits on the reading one), XACK with the entries whose
/// acknowledgement failed before, and the group's backlog (XINFO GROUPS).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "recflow/graph/source.hpp"
#include "recflow/sources/redis_source.hpp"

namespace recflow::redis_detail {

class acknowledger {
 public:
  /// `name` ("redis HOST:PORT") for messages; `log` gets a note for each failure.
  acknowledger(const redis_source_options& o, std::string name);

  /// XACK `ids` and those that failed before; returns the ids acknowledged (none when it
  /// failed: then they are counted, logged and tried again with the next call).
  std::vector<std::string> ack(std::vector<std::string> ids);

  /// The group's pending entries and lag, asking the server only when the last answer is
  /// older than `max_age`; with the failed acknowledgements counted.
  std::optional<source_backlog> backlog(std::chrono::milliseconds max_age);

 private:
  /// The connection, made (and logged in) when missing; nothing when that fails (`why`).
  redis_client* connection(std::string& why);

  redis_stream_address at_;
  std::string group_;
  redis_credentials auth_;
  std::function<void(const std::string&)> log_;
  std::string name_;
  std::mutex m_;  ///< everything below
  std::optional<redis_client> conn_;
  std::vector<std::string> unacked_;       ///< to acknowledge again
  std::uint64_t failed_ = 0;               ///< entries whose acknowledgement failed
  std::optional<source_backlog> backlog_;  ///< the last answer
  std::chrono::steady_clock::time_point backlog_at_{};
};

}  // namespace recflow::redis_detail
