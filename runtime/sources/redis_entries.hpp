/// Redis stream entries for the source: ids as ordered numbers, an entry's fields as a
/// rating or the reason it is a dead letter, and a group's backlog from XINFO GROUPS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/graph/source.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_client.hpp"

namespace recflow::redis_detail {

/// A stream entry id "MS-SEQ" as two numbers, ordered as Redis orders them.
struct entry_id {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const entry_id&) const = default;
};

/// The id of "MS-SEQ", or nothing when the text is not one.
std::optional<entry_id> parse_entry_id(std::string_view text);

/// The rating of an entry's fields (key, value, key, value, ...), or the reason it is a
/// dead letter in `reason`. `pairs`: the fields came as key/value pairs. An event
/// (`kind` event) may leave out its weight (`weight`, or `rating`; default 1).
std::optional<rating_event> decode_entry(const std::vector<std::string_view>& kv, bool pairs,
                                         rating_scale scale, std::string& reason,
                                         record_kind kind = record_kind::rating);

/// The pending entries and the lag (Redis 7 and later) of `group` in an XINFO GROUPS reply;
/// nothing when the group is not in it.
std::optional<source_backlog> group_backlog(const redis_reply& groups, const std::string& group);

}  // namespace recflow::redis_detail
