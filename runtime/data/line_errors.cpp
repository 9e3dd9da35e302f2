// Messages for bad lines: only reached when a line fails, so clarity beats speed here.
#include <charconv>
#include <limits>
#include <tuple>

#include "recflow/data/line_parser.hpp"

namespace recflow::detail {

namespace {

std::string_view trim(std::string_view s, std::string_view blanks) {
  auto b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

/// A field as it appears in a message: quoted, at most 40 bytes, unprintables as \xNN.
std::string quote(std::string_view s) {
  std::string q = "'";
  for (std::size_t k = 0; k < s.size() && k < 40; ++k) {
    auto c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c < 0x7f) {
      q.push_back(static_cast<char>(c));
    } else {
      const char* hex = "0123456789abcdef";
      q += "\\x";
      q.push_back(hex[c >> 4]);
      q.push_back(hex[c & 15]);
    }
  }
  if (s.size() > 40) q += "...";
  return q + "'";
}

std::string number(double x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string separator_name(const layout& l) {
  if (l.kind == sep_kind::whitespace) return "blanks";
  if (l.sep == "\t") return "tabs";
  if (l.sep == ",") return "commas";
  return quote(l.sep);
}

std::string field_name(const layout& l, int f) {
  switch (l.roles[static_cast<std::size_t>(f)]) {
    case field_role::user: return "user id";
    case field_role::item: return "item id";
    case field_role::value: return l.format == input_format::events ? "weight" : "rating";
    case field_role::timestamp: return "timestamp";
    case field_role::ignore: break;
  }
  return "column " + std::to_string(f + 1);
}

/// How much of `s` reads as a number (0 if it does not start with one).
std::size_t number_prefix(std::string_view s) {
  double x = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), x);
  return r.ec == std::errc{} ? static_cast<std::size_t>(r.ptr - s.data()) : 0;
}

/// Reason and code for a field that failed to parse.
std::pair<errc, std::string> syntax_reason(const layout& l, int f, std::string_view t) {
  auto name = field_name(l, f);
  if (t.empty()) return {errc::parse, name + " is empty"};
  auto role = l.roles[static_cast<std::size_t>(f)];
  auto prefix = number_prefix(t);
  if (role == field_role::value)
    return {errc::parse, name + " " + quote(t)
                           + (prefix ? " has trailing characters" : " is not a number")};
  bool is_integer_text = prefix == t.size() && t.find_first_of(".eEnN") == std::string_view::npos;
  if (role == field_role::timestamp && t[0] == '-' && is_integer_text)
    return {errc::invalid_value, name + " " + quote(t) + " is negative"};
  if (prefix == t.size() || prefix == 0)
    return {errc::parse, name + " " + quote(t) + " is not an integer"};
  return {errc::parse, name + " " + quote(t) + " has trailing characters"};
}

/// The number `s` reads as (NaN when it does not).
double parsed_number(std::string_view s) {
  double x = std::numeric_limits<double>::quiet_NaN();
  std::from_chars(s.data(), s.data() + s.size(), x);
  return x;
}

int value_column(const layout& l) {
  for (int f = 0; f < l.fields; ++f)
    if (l.roles[static_cast<std::size_t>(f)] == field_role::value) return f;
  return 0;
}

}  // namespace

std::vector<std::string_view> split_fields(const layout& l, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> out;
  if (l.kind == sep_kind::whitespace) {
    line = trim(line, " \t");
    while (!line.empty()) {
      auto e = line.find_first_of(" \t");
      out.push_back(line.substr(0, e));
      if (e == std::string_view::npos) break;
      line = line.substr(line.find_first_not_of(" \t", e));
    }
    return out;
  }
  for (;;) {
    auto e = line.find(l.sep);
    out.push_back(trim(line.substr(0, e), " "));
    if (e == std::string_view::npos) return out;
    line.remove_prefix(e + l.sep.size());
  }
}

error describe_failure(const layout& l, std::string_view name, std::uint64_t line,
                       std::string_view text, const line_fail& fail) {
  auto fields = split_fields(l, text);
  errc code = errc::parse;
  std::string reason;
  int f = fail.field;
  std::string_view t =
      f >= 0 && static_cast<std::size_t>(f) < fields.size() ? fields[static_cast<std::size_t>(f)]
                                                            : std::string_view{};
  switch (fail.kind) {
    case fail_kind::too_few_fields:
    case fail_kind::too_many_fields:
      reason = "expected " + std::to_string(l.fields) + " fields separated by "
               + separator_name(l) + ", found " + std::to_string(fields.size());
      break;
    case fail_kind::syntax:
      std::tie(code, reason) = syntax_reason(l, f, t);
      break;
    case fail_kind::overflow:
      code = errc::invalid_value;
      reason = field_name(l, f) + " " + quote(t) + " does not fit in 64 bits";
      break;
    case fail_kind::not_finite:
    case fail_kind::out_of_scale: {
      code = errc::invalid_value;
      auto c = static_cast<std::size_t>(value_column(l));
      auto v = c < fields.size() ? fields[c] : std::string_view{};
      const bool events = l.format == input_format::events;
      const std::string what = (events ? "weight " : "rating ") + quote(v);
      if (fail.kind == fail_kind::not_finite)
        reason = what + " is not finite";
      else if (events && !(parsed_number(v) > 0.0))
        reason = what + " is not positive";
      else if (events && l.scale.min == std::numeric_limits<float>::min()
               && l.scale.max == std::numeric_limits<float>::max())
        reason = what + " is outside what a weight can hold (1.2e-38..3.4e38)";
      else
        reason = what + " is outside the scale " + number(l.scale.min) + ".." + number(l.scale.max);
      break;
    }
  }
  return error{code, std::string(name) + ":" + std::to_string(line) + ": " + reason};
}

}  // namespace recflow::detail
