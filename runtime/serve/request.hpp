/// Request targets: "/path?key=value&..." split and decoded, and strict number parsing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/model/error.hpp"

namespace recflow::serve {

/// A request target split into its path and its query parameters (percent-decoded;
/// '+' is a space). A repeated key keeps its last value.
struct target {
  std::string path;
  std::map<std::string, std::string, std::less<>> query;

  /// Parses "/path?k=v&k2=v2". Fails on a malformed percent escape.
  static result<target> parse(std::string_view text);
  /// The value of `key`, or nothing.
  std::optional<std::string_view> get(std::string_view key) const;
};

/// A whole decimal signed 64-bit integer ("12", "-3"); nothing else (no spaces, no sign
/// alone, no overflow).
std::optional<std::int64_t> parse_int64(std::string_view s) noexcept;

/// A comma-separated list of int64 ids ("1,2,3"); fails on an empty element or a bad id,
/// or when there are more than `max` ids.
result<std::vector<std::int64_t>> parse_id_list(std::string_view s, std::size_t max);

/// "HOST:PORT" as given to --listen and --serve (PORT 0..65535; 0 picks a free port).
/// HOST may be a name or an IPv4 address, or an IPv6 address in brackets ("[::1]:8080").
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};
result<listen_address> parse_listen(std::string_view text);

}  // namespace recflow::serve
