// A Redis source's address and options: the redis:// URL, the checks, the end key.
#include "recflow/sources/redis_source.hpp"

#include <string>
#include <string_view>

#include "recflow/sources/redis_client.hpp"

namespace recflow {

result<redis_stream_address> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme))
    return error{errc::invalid_argument, "a Redis source is redis://HOST:PORT/STREAM, got '"
                                           + std::string(url) + "'"};
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size())
    return error{errc::invalid_argument, "no stream name in '" + std::string(url)
                                           + "' (redis://HOST:PORT/STREAM)"};
  auto hp = parse_host_port(rest.substr(0, slash));
  if (!hp)
    return hp.err();
  return redis_stream_address{*hp, std::string(rest.substr(slash + 1))};
}

result<void> validate(const redis_source_options& o) {
  if (o.at.stream.empty())
    return error{errc::invalid_argument, "Redis stream name is empty"};
  if (o.max_ratings == 0 && o.interval.count() <= 0)
    return error{errc::invalid_argument, "a Redis batch needs a size or an interval, got neither"};
  if (o.interval.count() < 0 || o.idle_timeout.count() < 0)
    return error{errc::invalid_argument, "Redis batch interval and idle timeout must be >= 0"};
  if (o.group.empty() || o.consumer.empty())
    return error{errc::invalid_argument, "Redis consumer group and consumer need names"};
  return {};
}

std::string redis_end_key(const redis_stream_address& at, const std::string& key) {
  return key.empty() ? at.stream + ":eos" : key;
}

}  // namespace recflow
