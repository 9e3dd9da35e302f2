// Fuzzes the record parsers of the broker and socket sources (runtime/sources): any bytes as
// the lines a TCP peer sends or the fields of a Redis stream entry. A record must parse into
// a rating inside the scale or be refused with a reason, never crash or read out of bounds;
// a rating that parses must parse again, to the same event, from the text it prints as.
//
// The first byte picks the mode: even, the rest is text cut at '\n' into lines for
// parse_rating_text (the TCP source's lines); odd, the rest is cut at '\0' into an entry id
// for parse_entry_id and the fields of one entry for decode_entry (key, value, key, value,
// ...; an odd count is an entry whose fields are not pairs).
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_entries.hpp"

using namespace recflow;

namespace {

constexpr rating_scale scale{0.5, 5.0};

/// The invariants of a parsed rating: finite, inside the scale, and the same event again
/// when its fields are printed and parsed back.
void check_event(const rating_event& ev) {
  if (!std::isfinite(ev.value) || ev.value < scale.min || ev.value > scale.max)
    fuzz::fail("a parsed rating is outside the scale");
  char value[32];
  std::snprintf(value, sizeof value, "%.9g", static_cast<double>(ev.value));
  auto again = parse_rating_fields(std::to_string(ev.user), std::to_string(ev.item), value,
                                   std::to_string(ev.timestamp), scale);
  if (!again || !(*again == ev))
    fuzz::fail("a parsed rating does not parse again from its own fields");
}

void lines(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    auto ev = parse_rating_text(line, scale);
    if (ev)
      check_event(*ev);
    else if (ev.err().message.empty())
      fuzz::fail("a refused line has no reason");
  }
}

void entry(std::string_view text) {
  auto z = text.find('\0');
  auto id_text = text.substr(0, z);
  text.remove_prefix(z == std::string_view::npos ? text.size() : z + 1);
  std::vector<std::string_view> kv;
  while (!text.empty()) {
    z = text.find('\0');
    kv.push_back(text.substr(0, z));
    text.remove_prefix(z == std::string_view::npos ? text.size() : z + 1);
  }
  if (auto id = redis_detail::parse_entry_id(id_text)) {
    auto printed = std::to_string(id->ms) + "-" + std::to_string(id->seq);
    auto back = redis_detail::parse_entry_id(printed);
    if (!back || *back != *id)
      fuzz::fail("an entry id does not parse again from its own text");
  }
  std::string reason;
  auto ev = redis_detail::decode_entry(kv, kv.size() % 2 == 0, scale, reason);
  if (ev)
    check_event(*ev);
  else if (reason.empty())
    fuzz::fail("a dead-letter entry has no reason");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1)
    return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0)
    lines(rest);
  else
    entry(rest);
  return 0;
}
