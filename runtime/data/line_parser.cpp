// The hot loop of ingest: hand-written digit parsing over text that always holds a '\n'
// ahead (and some slack after it), so the scanners need no bounds checks.
#include "recflow/data/line_parser.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "recflow/data/number_scan.hpp"

namespace recflow::detail {

namespace {

/// Start of the next line if `p` is at a line end ("\n" or "\r\n"), else nullptr.
inline const char* line_end(const char* p) noexcept {
  if (*p == '\n') return p + 1;
  if (*p == '\r' && p[1] == '\n') return p + 2;
  return nullptr;
}

struct single_sep {
  char c;
  bool at(const char* p) const noexcept { return *p == c; }
  const char* skip(const char* p) const noexcept { return p + 1; }
  static const char* pad(const char* p) noexcept {
    while (*p == ' ') ++p;
    return p;
  }
};

struct whitespace_sep {
  static bool at(const char* p) noexcept { return *p == ' ' || *p == '\t'; }
  static const char* skip(const char* p) noexcept {
    while (at(p)) ++p;
    return p;
  }
  static const char* pad(const char* p) noexcept { return p; }
};

struct multi_sep {
  std::string_view s;
  // Stops at the first mismatch, so it never reads past a '\n' (separators hold none).
  bool at(const char* p) const noexcept {
    for (std::size_t k = 0; k < s.size(); ++k)
      if (p[k] != s[k]) return false;
    return true;
  }
  const char* skip(const char* p) const noexcept { return p + s.size(); }
  static const char* pad(const char* p) noexcept { return single_sep::pad(p); }
};

template <class Sep>
inline const char* lead(const Sep& sep, const char* p) noexcept {
  if constexpr (std::is_same_v<Sep, whitespace_sep>)
    return sep.skip(p);
  else
    return sep.pad(p);
}

/// Parses field `f` of `n`, which holds `role`, and what follows it: the separator, or
/// for the last field the line end. Moves `p` past them; false with `fail` set if bad.
template <class Sep>
[[gnu::always_inline]] inline bool field(const Sep& sep, field_role role, int f, int n,
                                         const char*& p, line_values& v,
                                         line_fail& fail) noexcept {
  num_status st = num_status::ok;
  bool ok = true;
  switch (role) {
    case field_role::user: p = parse_int(p, true, v.user, st); break;
    case field_role::item: p = parse_int(p, true, v.item, st); break;
    case field_role::timestamp: p = parse_int(p, false, v.timestamp, st); break;
    case field_role::value: p = parse_double(p, v.value, ok); break;
    case field_role::ignore:
      while (!sep.at(p) && !line_end(p)) ++p;
      break;
  }
  if (st != num_status::ok || !ok) [[unlikely]] {
    fail = {st == num_status::overflow ? fail_kind::overflow : fail_kind::syntax, f};
    return false;
  }
  p = sep.pad(p);
  if (f + 1 < n) {
    if (sep.at(p)) [[likely]] {
      p = sep.pad(sep.skip(p));
      return true;
    }
    fail = {line_end(p) ? fail_kind::too_few_fields : fail_kind::syntax, f};
    return false;
  }
  const char* next = line_end(p);
  if constexpr (std::is_same_v<Sep, whitespace_sep>)
    if (!next && sep.at(p)) next = line_end(sep.skip(p));  // trailing blanks
  if (!next) [[unlikely]] {
    fail = {sep.at(p) ? fail_kind::too_many_fields : fail_kind::syntax, f};
    return false;
  }
  p = next;
  return true;
}

/// The rating checks that come after a line's shape is known good.
inline const char* check_value(const layout& l, const char* next, const line_values& v,
                               line_fail& fail) noexcept {
  if (!std::isfinite(v.value)) [[unlikely]] {
    fail = {fail_kind::not_finite, -1};
    return nullptr;
  }
  if (!l.scale.contains(v.value)) [[unlikely]] {
    fail = {fail_kind::out_of_scale, -1};
    return nullptr;
  }
  return next;
}

/// Line shapes: any column order (roles read at run time), or the usual
/// `user item rating` and `user item rating timestamp` (roles fixed at compile time, so
/// the same field steps compile to straight-line code).
enum class shape { any, uir, uirt };

template <shape S, class Sep>
const char* parse_fields(const layout& l, const Sep& sep, const char* p, line_values& v,
                         line_fail& fail) noexcept {
  p = lead(sep, p);
  if constexpr (S == shape::any) {
    v.value = 1.0;  // an event line without a weight field weighs 1
    for (int f = 0; f < l.fields; ++f)
      if (!field(sep, l.roles[static_cast<std::size_t>(f)], f, l.fields, p, v, fail))
        return nullptr;
  } else {
    constexpr int n = S == shape::uirt ? 4 : 3;
    if (!field(sep, field_role::user, 0, n, p, v, fail)
        || !field(sep, field_role::item, 1, n, p, v, fail)
        || !field(sep, field_role::value, 2, n, p, v, fail))
      return nullptr;
    if constexpr (S == shape::uirt)
      if (!field(sep, field_role::timestamp, 3, n, p, v, fail)) return nullptr;
  }
  return check_value(l, p, v, fail);
}

shape shape_of(const layout& l) noexcept {
  bool uir = l.roles[0] == field_role::user && l.roles[1] == field_role::item
             && l.roles[2] == field_role::value;
  if (uir && l.fields == 3) return shape::uir;
  if (uir && l.fields == 4 && l.roles[3] == field_role::timestamp) return shape::uirt;
  return shape::any;
}

/// Where parsed ratings go: into a table, their ids into its maps.
struct table_sink {
  parse_state& st;
  id_map& users;
  id_map& items;
  std::vector<rating>& out;
  bool have_user = false;  // sorted files repeat the user: skip the hash lookup then
  std::int64_t last_user = 0;
  index_t last_user_index = 0;

  table_sink(parse_state& s, id_map& u, id_map& i, std::vector<rating>& o)
    : st(s), users(u), items(i), out(o) {
    st.users.bind(users);
    st.items.bind(items);
  }
  ~table_sink() {
    st.users.note_size(users);
    st.items.note_size(items);
  }
  void add(const line_values& v) {
    if (!have_user || v.user != last_user) {
      last_user = v.user;
      last_user_index = st.users.insert(users, v.user);
      have_user = true;
    }
    out.push_back(rating{last_user_index, st.items.insert(items, v.item),
                         static_cast<float>(v.value), v.timestamp});
  }
};

/// Where parsed ratings go: as they are, with the file's ids.
struct external_sink {
  std::vector<external_rating>& out;
  void add(const line_values& v) {
    out.push_back({v.user, v.item, static_cast<float>(v.value), v.timestamp});
  }
};

template <shape S, class Sep, class Sink>
parse_stop run(const layout& l, const Sep& sep, parse_state& st, const char* p, const char* end,
               std::size_t max, Sink& sink) {
  auto& rep = st.report;
  std::uint64_t line = rep.lines;
  std::size_t added = 0;
  parse_stop stop;
  line_values v;
  line_fail fail;
  while (p < end && added < max) {
    ++line;
    if (*p == '\n') {
      ++p;
      continue;
    }
    const char* next = st.header_pending ? nullptr : parse_fields<S>(l, sep, p, v, fail);
    if (next) [[likely]] {
      sink.add(v);
      ++added;
      p = next;
      continue;
    }
    auto eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    std::string_view text(p, static_cast<std::size_t>(eol - p));
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) {  // blank
      p = eol + 1;
      continue;
    }
    if (st.header_pending) {
      st.header_pending = false;
      p = eol + 1;
      continue;
    }
    auto err = describe_failure(l, st.name, line, text, fail);
    if (st.strict) {
      stop.err = std::move(err);
      break;
    }
    ++rep.skipped;
    if (rep.first_errors.size() < 10) rep.first_errors.push_back(std::move(err.message));
    p = eol + 1;
  }
  rep.lines = line;
  rep.ratings += added;
  stop.pos = p;
  stop.added = added;
  return stop;
}

template <shape S>
const char* parse_line_as(const layout& l, const char* p, line_values& v,
                          line_fail& fail) noexcept {
  switch (l.kind) {
    case sep_kind::single: return parse_fields<S>(l, single_sep{l.sep[0]}, p, v, fail);
    case sep_kind::whitespace: return parse_fields<S>(l, whitespace_sep{}, p, v, fail);
    case sep_kind::multi: return parse_fields<S>(l, multi_sep{l.sep}, p, v, fail);
  }
  return nullptr;
}

template <shape S, class Sink>
parse_stop run_as(const layout& l, parse_state& st, const char* p, const char* end,
                  std::size_t max, Sink& sink) {
  switch (l.kind) {
    case sep_kind::single: return run<S>(l, single_sep{l.sep[0]}, st, p, end, max, sink);
    case sep_kind::whitespace: return run<S>(l, whitespace_sep{}, st, p, end, max, sink);
    case sep_kind::multi: return run<S>(l, multi_sep{l.sep}, st, p, end, max, sink);
  }
  return {p, 0, std::nullopt};
}

template <class Sink>
parse_stop parse_into(const layout& l, parse_state& st, const char* p, const char* end,
                      std::size_t max, Sink& sink) {
  switch (shape_of(l)) {
    case shape::uir: return run_as<shape::uir>(l, st, p, end, max, sink);
    case shape::uirt: return run_as<shape::uirt>(l, st, p, end, max, sink);
    case shape::any: break;
  }
  return run_as<shape::any>(l, st, p, end, max, sink);
}

}  // namespace

const char* parse_line(const layout& l, const char* p, line_values& v, line_fail& fail) noexcept {
  switch (shape_of(l)) {
    case shape::uir: return parse_line_as<shape::uir>(l, p, v, fail);
    case shape::uirt: return parse_line_as<shape::uirt>(l, p, v, fail);
    case shape::any: break;
  }
  return parse_line_as<shape::any>(l, p, v, fail);
}

parse_stop parse_lines(const layout& l, parse_state& st, const char* p, const char* end,
                       std::size_t max, id_map& users, id_map& items, std::vector<rating>& out) {
  table_sink sink(st, users, items, out);
  return parse_into(l, st, p, end, max, sink);
}

parse_stop parse_lines(const layout& l, parse_state& st, const char* p, const char* end,
                       std::size_t max, std::vector<external_rating>& out) {
  external_sink sink{out};
  return parse_into(l, st, p, end, max, sink);
}

parse_stop parse_text(const layout& l, parse_state& st, std::string_view text, id_map& users,
                      id_map& items, std::vector<rating>& out) {
  // In place up to the last '\n' that leaves read_slack bytes after it; the rest (the
  // last lines, and a final line without '\n') through a padded copy.
  std::size_t body = 0;
  if (text.size() > read_slack) {
    auto nl = text.rfind('\n', text.size() - read_slack - 1);
    if (nl != std::string_view::npos) body = nl + 1;
  }
  auto stop = parse_lines(l, st, text.data(), text.data() + body, SIZE_MAX, users, items, out);
  if (stop.err || body == text.size()) return stop;
  std::string tail(text.substr(body));
  if (tail.back() != '\n') tail.push_back('\n');
  auto tail_size = tail.size();
  tail.append(read_slack, '\0');
  auto rest = parse_lines(l, st, tail.data(), tail.data() + tail_size, SIZE_MAX, users, items,
                          out);
  rest.added += stop.added;
  rest.pos = text.data() + text.size();
  return rest;
}

void truncate_ids(id_map& m, std::uint32_t n) {
  if (m.size() <= n) return;
  std::vector<std::int64_t> keep(m.externals().begin(), m.externals().begin() + n);
  id_map::from_externals(keep, m);
}

}  // namespace recflow::detail
