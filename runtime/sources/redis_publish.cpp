// `recflow publish` into Redis: XADD in pipelined chunks, paced, then the end key.
#include <charconv>
#include <thread>

#include "recflow/sources/redis_source.hpp"

namespace recflow {

namespace {

using clock = std::chrono::steady_clock;

void sleep_until(clock::time_point t) {
  if (t > clock::now())
    std::this_thread::sleep_until(t);
}

std::string number_text(float v) {  // shortest text that reads back as v
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

}  // namespace

result<redis_publish_report> publish_ratings(const redis_publish_options& o,
                                             std::span<const rating_event> events,
                                             const std::function<void(std::uint64_t)>& on_sent) {
  if (o.at.stream.empty())
    return error{errc::invalid_argument, "Redis stream name is empty"};
  if (!(o.rate >= 0.0))
    return error{errc::invalid_argument, "publish rate must be >= 0 ratings/s"};
  auto c = redis_client::connect(o.at.server, std::chrono::seconds(5), o.auth);
  if (!c)
    return c.err();
  redis_publish_report rep;
  auto start = clock::now();
  auto chunk = std::max<std::size_t>(1, o.pipeline);
  if (o.rate > 0.0)  // at least 20 sends a second, so pacing stays smooth
    chunk = std::min<std::size_t>(chunk, std::max<std::size_t>(1, std::size_t(o.rate / 20)));
  std::size_t at = 0;
  while (at < events.size()) {
    if (o.rate > 0.0)
      sleep_until(start + std::chrono::duration_cast<clock::duration>(
                            std::chrono::duration<double>(double(at) / o.rate)));
    auto n = std::min(chunk, events.size() - at);
    for (std::size_t j = 0; j < n; ++j) {
      const auto& e = events[at + j];
      std::vector<std::string> args{"XADD", o.at.stream, "*", "user", std::to_string(e.user),
                                    "item", std::to_string(e.item), "rating",
                                    number_text(e.value)};
      if (e.timestamp != 0) {
        args.push_back("timestamp");
        args.push_back(std::to_string(e.timestamp));
      }
      if (auto ok = c->append(args); !ok)
        return ok.err();
    }
    for (std::size_t j = 0; j < n; ++j) {
      auto r = c->read_reply();
      if (!r)
        return r.err();
      rep.last_id = r->str;
    }
    at += n;
    rep.published = at;
    if (on_sent)
      on_sent(at);
  }
  if (o.end_marker) {  // after every entry: a reader that sees the key has them all
    auto r = c->command({"SET", redis_end_key(o.at, o.end_key),
                         rep.last_id.empty() ? std::string("0-0") : rep.last_id});
    if (!r)
      return r.err();
  }
  rep.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return rep;
}

}  // namespace recflow
