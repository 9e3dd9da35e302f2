#include "recflow/sources/record_parse.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace recflow {

namespace {

result<std::int64_t> to_id(std::string_view s, const char* what) {
  std::int64_t v = 0;
  if (s.empty())
    return error{errc::parse, std::string(what) + " is empty"};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range)
    return error{errc::parse, std::string(what) + " '" + std::string(s) + "' does not fit in 64 bits"};
  if (ec != std::errc{} || p != s.data() + s.size())
    return error{errc::parse, std::string(what) + " '" + std::string(s) + "' is not an integer"};
  return v;
}

}  // namespace

result<rating_event> parse_rating_fields(std::string_view user, std::string_view item,
                                         std::string_view rating, std::string_view timestamp,
                                         rating_scale scale, record_kind kind) {
  auto u = to_id(user, "user");
  if (!u)
    return u.err();
  auto i = to_id(item, "item");
  if (!i)
    return i.err();
  const bool event = kind == record_kind::event;
  const char* what = event ? "weight '" : "rating '";
  double r = 1.0;  // an event without a weight
  auto [p, ec] = std::from_chars(rating.data(), rating.data() + rating.size(), r);
  if (!(event && rating.empty())
      && (rating.empty() || ec != std::errc{} || p != rating.data() + rating.size()))
    return error{errc::parse, what + std::string(rating) + "' is not a number"};
  if (!std::isfinite(r))
    return error{errc::invalid_value, what + std::string(rating) + "' is not finite"};
  if (event && !(r > 0.0 && r <= 3.4e38))
    return error{errc::invalid_value, what + std::string(rating) + "' is not positive (events "
                                        "weigh more than 0)"};
  if (!event && (r < scale.min || r > scale.max))
    return error{errc::invalid_value, "rating " + std::string(rating) + " is outside the scale "
                                        + std::to_string(scale.min).substr(0, 4) + ".."
                                        + std::to_string(scale.max).substr(0, 4)};
  rating_event e{*u, *i, static_cast<float>(r), 0};
  if (!timestamp.empty()) {
    auto t = to_id(timestamp, "timestamp");
    if (!t)
      return t.err();
    e.timestamp = *t;
  }
  return e;
}

result<rating_event> parse_rating_text(std::string_view line, rating_scale scale,
                                       record_kind kind) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  std::vector<std::string_view> f;
  std::size_t at = 0;
  auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
  while (at < line.size() && is_blank(line[at]))
    ++at;
  while (at < line.size()) {
    auto end = at;
    while (end < line.size() && line[end] != ',' && !is_blank(line[end])
           && !(line[end] == ':' && end + 1 < line.size() && line[end + 1] == ':'))
      ++end;
    f.push_back(line.substr(at, end - at));
    if (f.size() > 4)
      return error{errc::parse, "more than 4 fields (user item rating [timestamp])"};
    if (end >= line.size())
      break;
    if (line[end] == ',')
      at = end + 1;
    else if (line[end] == ':')
      at = end + 2;
    else {
      at = end;
      while (at < line.size() && is_blank(line[at]))
        ++at;
      if (at >= line.size())
        break;
      if (line[at] == ',')
        ++at;
    }
    if (at >= line.size())
      f.push_back({});  // a trailing separator leaves an empty last field
  }
  const bool event = kind == record_kind::event;
  if (f.size() < (event ? 2u : 3u))
    return error{errc::parse, std::to_string(f.size()) + " field(s), expected user item "
                                + (event ? "[weight] [timestamp]" : "rating [timestamp]")};
  if (f.size() == 4 && f[3].empty())
    return error{errc::parse, "timestamp is empty"};
  if (event && f.size() == 3 && f[2].empty())  // "1,2,": a weight was meant
    return error{errc::parse, "weight is empty"};
  return parse_rating_fields(f[0], f[1], f.size() > 2 ? f[2] : std::string_view{},
                             f.size() > 3 ? f[3] : std::string_view{}, scale, kind);
}

void dead_letters::add(std::string reason) {
  count_.fetch_add(1);
  std::lock_guard lock(m_);
  if (reasons_.size() < max_kept)
    reasons_.push_back(std::move(reason));
}

std::vector<std::string> dead_letters::first_reasons() const {
  std::lock_guard lock(m_);
  return reasons_;
}

}  // namespace recflow
