#include "recflow/job/source_spec.hpp"

#include <chrono>

#include "recflow/sources/redis_source.hpp"
#include "recflow/sources/replay_source.hpp"
#include "recflow/sources/socket_source.hpp"

namespace recflow {

namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
}

}  // namespace

result<std::shared_ptr<rating_source>> open_source(const std::string& s,
                                                   const source_spec_options& o,
                                                   const ingest_options& ingest,
                                                   rating_scale scale,
                                                   std::shared_ptr<dead_letters> dead) {
  constexpr double max_seconds = 1e9;  // about 31 years: keeps the conversions defined
  auto in = [](double v, double hi) { return v >= 0 && v <= hi; };  // false for NaN
  if (!in(o.batch_interval, max_seconds) || !in(o.idle_timeout, max_seconds)
      || !in(o.replay_speed, 1e15))
    return error{errc::invalid_argument,
                 "--batch-interval and --idle-timeout must be 0..1e9 seconds, --replay-speed "
                 "0..1e15"};
  if (s.starts_with("redis://")) {
    auto at = parse_redis_url(s);
    if (!at)
      return at.err();
    redis_source_options r;
    r.at = *at;
    r.group = o.redis_group;
    r.consumer = o.redis_consumer;
    r.max_ratings = o.batch_size;
    r.interval = to_ms(o.batch_interval);
    r.idle_timeout = to_ms(o.idle_timeout);
    r.scale = scale;
    r.kind = o.records;
    r.dead = std::move(dead);
    if (!in(o.redis_reconnect_limit, max_seconds) || !in(o.redis_claim_idle, max_seconds))
      return error{errc::invalid_argument,
                   "--redis-reconnect-limit and --redis-claim-idle must be 0..1e9 seconds"};
    r.reconnect_limit = to_ms(o.redis_reconnect_limit);
    r.claim_idle = to_ms(o.redis_claim_idle);
    r.end_key = o.redis_eos_key;
    r.dead_letter_max = o.redis_dead_letter_max;
    auto auth = read_redis_credentials(o.redis_password_file, o.redis_user);
    if (!auth)
      return auth.err();
    r.auth = std::move(*auth);
    if (auto ok = validate(r); !ok)
      return ok.err();
    return redis_source(std::move(r));
  }
  if (s.starts_with("tcp://")) {
    auto peer = parse_tcp_url(s);
    if (!peer)
      return peer.err();
    socket_source_options t;
    t.peer = *peer;
    t.max_ratings = o.batch_size;
    t.interval = to_ms(o.batch_interval);
    t.scale = scale;
    t.kind = o.records;
    t.dead = std::move(dead);
    t.max_line = o.tcp_max_line;
    if (!in(o.tcp_connect_timeout, max_seconds) || !in(o.tcp_read_timeout, max_seconds))
      return error{errc::invalid_argument,
                   "--tcp-connect-timeout and --tcp-read-timeout must be 0..1e9 seconds"};
    t.connect_timeout = to_ms(o.tcp_connect_timeout);
    t.read_timeout = to_ms(o.tcp_read_timeout);
    if (auto ok = validate(t); !ok)
      return error{errc::invalid_argument, "tcp source: " + ok.err().message};
    return socket_source(std::move(t));
  }
  auto interval = static_cast<std::int64_t>(o.batch_interval);
  if (s.starts_with("replay:") && s.size() > 7)
    return replay_source(s.substr(7), ingest,
                         {.speed = o.replay_speed, .policy = {o.batch_size, interval}});
  if (s.starts_with("file:") && s.size() > 5)
    return file_source(s.substr(5), ingest, {o.batch_size, interval});
  return error{errc::invalid_argument, "--source '" + s + "' is none of: " + source_grammar};
}

}  // namespace recflow
