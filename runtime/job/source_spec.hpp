/// A live source named by a spec (`recflow stream --source SPEC`): redis://HOST:PORT/STREAM,
/// tcp://HOST:PORT, replay:FILE or file:FILE.
#pragma once

#include <memory>
#include <string>

#include "recflow/data/ingest.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/sources/record_parse.hpp"

namespace recflow {

/// The source grammar, for help texts and errors.
inline constexpr const char* source_grammar =
  "redis://HOST:PORT/STREAM (a Redis stream, read with a consumer group), "
  "tcp://HOST:PORT (newline-delimited ratings from a TCP server), "
  "replay:FILE (FILE in timestamp order, paced by --replay-speed), "
  "file:FILE (FILE in file order)";

/// How a spec's source batches and paces, with defaults.
struct source_spec_options {
  std::size_t batch_size = 1000;    ///< ratings per batch at most
  double batch_interval = 0.0;      ///< seconds; redis and tcp: wall time, replay: event time
  double idle_timeout = 0.0;        ///< redis: end after this long without entries (0: wait for the end key)
  double replay_speed = 86'400.0;   ///< replay: event seconds per wall second (0: no pacing)
  std::string redis_group = "recflow";
  std::string redis_consumer = "trainer";
  std::string redis_user{};              ///< redis: ACL user (else from the file or the environment)
  std::string redis_password_file{};     ///< redis: the password (else RECFLOW_REDIS_PASSWORD)
  std::string redis_eos_key{};           ///< redis: the control key that ends the stream (STREAM:eos)
  double redis_reconnect_limit = 60.0;   ///< redis: seconds to keep connecting again (0: fail at once)
  double redis_claim_idle = 0.0;         ///< redis: XAUTOCLAIM entries pending this long (0: never)
  std::size_t redis_dead_letter_max = 100'000;  ///< redis: MAXLEN ~ of the dead-letter stream (0: none)
  std::size_t tcp_max_line = 64 * 1024;  ///< tcp: longer lines are dead letters
  double tcp_connect_timeout = 5.0;      ///< tcp: seconds to connect
  double tcp_read_timeout = 0.0;         ///< tcp: seconds without data before failing (0: never)
  /// redis and tcp: ratings on the scale, or events `user item [weight] [timestamp]`
  /// (files and replays: the ingest options' format says).
  record_kind records = record_kind::rating;
};

/// The source `spec` names; files are read with `ingest`, records of brokers and sockets
/// on `scale`, and those that do not parse go to `dead`.
result<std::shared_ptr<rating_source>> open_source(const std::string& spec,
                                                   const source_spec_options& o,
                                                   const ingest_options& ingest,
                                                   rating_scale scale,
                                                   std::shared_ptr<dead_letters> dead);

}  // namespace recflow
