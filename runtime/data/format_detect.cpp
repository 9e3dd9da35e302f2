// Works out a file's layout from the options and its first lines: every candidate layout
// is tried with the real line parser on a sample, and the one that reads most lines wins.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "recflow/data/line_parser.hpp"

namespace recflow::detail {

namespace {

constexpr std::size_t sample_lines = 32;

struct sample_line {
  std::uint64_t number;   ///< 1-based line number in the file
  std::string_view text;  ///< without '\n'
};

/// Non-blank lines of `head`; its last line counts only if it is complete or `whole`.
std::vector<sample_line> sample(std::string_view head, bool whole) {
  std::vector<sample_line> out;
  std::uint64_t number = 0;
  while (!head.empty() && out.size() < sample_lines) {
    auto nl = head.find('\n');
    if (nl == std::string_view::npos && !whole) break;
    auto text = head.substr(0, nl);
    ++number;
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) out.push_back({number, text});
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  return out;
}

/// True if the line reads under `l` (the sample text is copied to give it its '\n').
bool reads(const layout& l, std::string_view text) {
  std::string s(text);
  s.push_back('\n');
  s.append(read_slack, '\0');
  line_values v;
  line_fail fail;
  return parse_line(l, s.data(), v, fail) != nullptr;
}

bool has_letter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
}

layout make_layout(input_format f, std::string_view sep, bool header, int fields, int user,
                   int item, int value, int ts, rating_scale scale) {
  layout l;
  l.format = f;
  l.sep = std::string(sep);
  l.kind = sep.find_first_not_of(" \t") == std::string_view::npos && sep != "\t"
               ? sep_kind::whitespace
               : (sep.size() == 1 ? sep_kind::single : sep_kind::multi);
  l.header = header;
  l.fields = fields;
  l.roles.fill(field_role::ignore);
  l.roles[static_cast<std::size_t>(user)] = field_role::user;
  l.roles[static_cast<std::size_t>(item)] = field_role::item;
  if (value >= 0) l.roles[static_cast<std::size_t>(value)] = field_role::value;
  if (ts >= 0) l.roles[static_cast<std::size_t>(ts)] = field_role::timestamp;
  l.scale = scale;
  return l;
}

constexpr rating_scale any_value{-std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::infinity()};
constexpr rating_scale one_to_five{1.0, 5.0};
constexpr rating_scale half_to_five{0.5, 5.0};
/// Event weights: positive numbers a float holds as a normal number (weights are stored
/// in `rating::value`).
constexpr rating_scale positive_weight{std::numeric_limits<float>::min(),
                                       std::numeric_limits<float>::max()};

/// `n` fields in the order user, item, then value and timestamp as far as there are fields
/// (a rating file has 3 or 4, an event file 2, 3 or 4).
layout positional(input_format f, const std::string& sep, bool header, int n) {
  return make_layout(f, sep, header, n, 0, 1, n >= 3 ? 2 : -1, n == 4 ? 3 : -1, any_value);
}

/// Number of sample lines that read under `l`.
std::size_t score(const layout& l, const std::vector<sample_line>& lines) {
  return static_cast<std::size_t>(
      std::count_if(lines.begin(), lines.end(), [&](auto& s) { return reads(l, s.text); }));
}

/// The most common field count of the sample under `l`'s separator (0 if none).
int modal_fields(const layout& l, const std::vector<sample_line>& lines) {
  std::map<std::size_t, int> counts;
  for (auto& s : lines) ++counts[split_fields(l, s.text).size()];
  auto best = std::max_element(counts.begin(), counts.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
  return best == counts.end() ? 0 : static_cast<int>(best->first);
}

error undetectable(std::string_view name, const std::vector<sample_line>& lines, bool whole,
                   bool events) {
  auto line = lines.empty() ? 1 : lines.front().number;
  std::string expected = events ? "'user item [weight] [timestamp]'" : "'user item rating [timestamp]'";
  std::string why = lines.empty() && !whole
                        ? "line 1 is longer than " + std::to_string(head_bytes) + " bytes"
                        : "expected " + expected + " separated by tabs, commas, spaces or '::'";
  return error{errc::parse, std::string(name) + ":" + std::to_string(line)
                                + ": cannot detect the format: " + why};
}

/// Which named format a detected layout is; anything else is `delimited`.
input_format classify(const layout& l) {
  if (l.fields != 4) return input_format::delimited;
  if (l.sep == "\t" && !l.header) return input_format::ml100k;
  if (l.sep == "::" && !l.header) return input_format::ml_dat;
  if (l.sep == "," && l.header) return input_format::ml_csv;
  return input_format::delimited;
}

result<void> check(const ingest_options& o) {
  auto bad = [](std::string m) { return error{errc::invalid_argument, std::move(m)}; };
  if (o.scale && !(std::isfinite(o.scale->min) && std::isfinite(o.scale->max)
                   && o.scale->min <= o.scale->max))
    return bad("scale must be finite with min <= max, got " + std::to_string(o.scale->min) + ".."
               + std::to_string(o.scale->max));
  if (o.separator.find_first_of("0123456789.-+eE\r\n") != std::string::npos)
    return bad("separator must not hold digits, signs, '.', 'e' or line breaks, got '"
               + o.separator + "'");
  if (o.format != input_format::delimited) return {};
  int cols[] = {o.user_column, o.item_column, o.rating_column};
  for (int c : cols)
    if (c < 0 || c >= max_fields)
      return bad("columns must be in 0.." + std::to_string(max_fields - 1) + ", got "
                 + std::to_string(c));
  if (o.timestamp_column < -1 || o.timestamp_column >= max_fields)
    return bad("timestamp column must be -1 (none) or in 0.." + std::to_string(max_fields - 1)
               + ", got " + std::to_string(o.timestamp_column));
  if (o.user_column == o.item_column || o.user_column == o.rating_column
      || o.item_column == o.rating_column || o.timestamp_column == o.user_column
      || o.timestamp_column == o.item_column || o.timestamp_column == o.rating_column)
    return bad("user, item, rating and timestamp columns must differ");
  return {};
}

/// The separator to use when the options name one: surrounding blanks of a visible
/// separator are padding, which the parser skips anyway.
std::string clean_separator(const std::string& s) {
  auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return s.empty() ? s : " ";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

}  // namespace

result<layout> resolve_layout(std::string_view head, bool whole, std::string_view name,
                              const ingest_options& opts) {
  if (auto ok = check(opts); !ok) return ok.err();
  auto scale_or = [&](rating_scale s) { return opts.scale.value_or(s); };
  switch (opts.format) {
    case input_format::ml100k:
      return make_layout(opts.format, "\t", false, 4, 0, 1, 2, 3, scale_or(one_to_five));
    case input_format::ml_dat:
      return make_layout(opts.format, "::", false, 4, 0, 1, 2, 3, scale_or(one_to_five));
    case input_format::ml_csv:
      return make_layout(opts.format, ",", true, 4, 0, 1, 2, 3, scale_or(half_to_five));
    case input_format::delimited:
    case input_format::events:
    case input_format::detect: break;
  }
  auto lines = sample(head, whole);
  std::vector<std::string> seps{"::", "\t", ",", " "};
  if (auto s = clean_separator(opts.separator); !s.empty()) seps = {s};

  if (opts.format == input_format::delimited) {
    int ts = opts.timestamp_column;
    int needed = std::max({opts.user_column, opts.item_column, opts.rating_column, ts}) + 1;
    layout best;
    std::size_t best_score = 0;
    for (std::size_t k = 0; k < seps.size(); ++k) {
      auto l = make_layout(opts.format, seps[k], opts.header, needed, opts.user_column,
                           opts.item_column, opts.rating_column, ts, any_value);
      l.fields = std::max(needed, modal_fields(l, lines));
      auto s = score(l, lines);
      if (k == 0 || s > best_score) best = l, best_score = s;
    }
    best.scale = scale_or(half_to_five);
    return best;
  }

  // Detection: the candidate layout that reads the most sample lines; ties go to the
  // earlier separator and to more fields over fewer.
  const bool events = opts.format == input_format::events;
  if (lines.empty() && whole) {
    layout none = make_layout(events ? input_format::events : input_format::detect, ",", false,
                              4, 0, 1, 2, 3, scale_or(events ? positive_weight : half_to_five));
    return none;  // nothing to read: zero events or ratings
  }
  const std::vector<int> field_counts = events ? std::vector<int>{4, 3, 2} : std::vector<int>{4, 3};
  layout best;
  std::size_t best_score = 0;
  for (auto& sep : seps)
    for (int n : field_counts) {
      auto l = positional(input_format::delimited, sep, false, n);
      if (auto s = score(l, lines); s > best_score) best = l, best_score = s;
    }
  bool header_only = lines.size() == 1 && whole && has_letter(lines[0].text);
  if (best_score == 0 && header_only) {
    for (auto& sep : seps) {  // a header and no data: pick what the header suggests
      auto n = static_cast<int>(split_fields(positional(input_format::delimited, sep, true, 4),
                                             lines[0].text).size());
      if (std::find(field_counts.begin(), field_counts.end(), n) != field_counts.end()) {
        best = positional(input_format::delimited, sep, true, n);
        best_score = 1;
        break;
      }
    }
  }
  if (best_score == 0) return undetectable(name, lines, whole, events);
  best.header = header_only || (!reads(best, lines[0].text) && has_letter(lines[0].text));
  if (events) {
    best.format = input_format::events;
    best.scale = scale_or(positive_weight);
    return best;
  }
  best.format = classify(best);
  bool movielens_1_to_5 = best.format == input_format::ml100k || best.format == input_format::ml_dat;
  best.scale = scale_or(movielens_1_to_5 ? one_to_five : half_to_five);
  return best;
}

}  // namespace recflow::detail
