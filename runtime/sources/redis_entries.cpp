#include "redis_entries.hpp"

#include <algorithm>
#include <charconv>

namespace recflow::redis_detail {

std::optional<entry_id> parse_entry_id(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= text.size())
    return std::nullopt;
  entry_id id;
  auto number = [](std::string_view s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
  };
  if (!number(text.substr(0, dash), id.ms) || !number(text.substr(dash + 1), id.seq))
    return std::nullopt;
  return id;
}

std::optional<rating_event> decode_entry(const std::vector<std::string_view>& kv, bool pairs,
                                         rating_scale scale, std::string& reason,
                                         record_kind kind) {
  const bool event = kind == record_kind::event;
  std::string_view user, item, rating, timestamp, unknown;
  bool has_user = false, has_item = false, has_rating = false, has_eos = false;
  for (std::size_t j = 0; j + 1 < kv.size(); j += 2) {
    auto k = kv[j], v = kv[j + 1];
    if (k == "user") { user = v; has_user = true; }
    else if (k == "item") { item = v; has_item = true; }
    else if (k == "rating" || (event && k == "weight")) { rating = v; has_rating = true; }
    else if (k == "timestamp") timestamp = v;
    else if (k == "eos") has_eos = true;
    else if (unknown.empty()) unknown = k;
  }
  if (!pairs)
    reason = "fields are not key/value pairs";
  else if (has_eos)  // any producer could add one: only the control key ends a stream
    reason = "a field 'eos' does not end the stream (the end is the control key, "
             "--redis-eos-key)";
  else if (!has_user || !has_item || (!has_rating && !event))
    reason = std::string("missing field ")
             + (!has_user ? "user" : !has_item ? "item" : "rating")
             + (unknown.empty() ? "" : " (has unknown field '" + std::string(unknown) + "')");
  else if (auto ev = parse_rating_fields(user, item, rating, timestamp, scale, kind))
    return *ev;
  else
    reason = ev.err().message;
  return std::nullopt;
}

std::optional<source_backlog> group_backlog(const redis_reply& groups, const std::string& group) {
  for (const auto& g : groups.elements) {  // one group: [name, NAME, pending, N, lag, N, ...]
    const redis_reply *name = nullptr, *pending = nullptr, *lag = nullptr;
    for (std::size_t k = 0; k + 1 < g.elements.size(); k += 2) {
      const auto& key = g.elements[k].str;
      const auto* v = &g.elements[k + 1];
      if (key == "name") name = v;
      else if (key == "pending") pending = v;
      else if (key == "lag") lag = v;
    }
    if (!name || name->str != group || !pending || pending->kind != redis_reply::integer)
      continue;
    source_backlog b{.pending = std::uint64_t(std::max(0LL, pending->integer_value))};
    if (lag && lag->kind == redis_reply::integer)
      b.unread = std::uint64_t(std::max(0LL, lag->integer_value));
    return b;
  }
  return std::nullopt;
}

}  // namespace recflow::redis_detail
