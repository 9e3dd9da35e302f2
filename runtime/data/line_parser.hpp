/// The one rating-line parser behind whole-file and chunked ingest (internal to data/).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/data/number_scan.hpp"
#include "recflow/data/rating_reader.hpp"

namespace recflow::detail {

/// What a column of a line holds.
enum class field_role : std::uint8_t { ignore, user, item, value, timestamp };

/// How fields are separated: one character, runs of blanks, or a longer string ("::").
enum class sep_kind : std::uint8_t { single, whitespace, multi };

inline constexpr int max_fields = 64;

/// A resolved file layout: how to split a line, what each field means, which ratings are valid.
struct layout {
  /// The format reported; `detect` means the text had no line to look at.
  input_format format = input_format::delimited;
  sep_kind kind = sep_kind::single;
  std::string sep = ",";  ///< separator text (" " for whitespace runs)
  bool header = false;    ///< the first non-blank line is skipped
  int fields = 4;         ///< every line has exactly this many fields
  std::array<field_role, max_fields> roles{};
  rating_scale scale{0.5, 5.0};
};

/// Why a line failed; `field` is the zero-based column concerned.
enum class fail_kind : std::uint8_t {
  too_few_fields,
  too_many_fields,
  syntax,        ///< the field is empty, not a number, or has trailing characters
  overflow,      ///< an integer does not fit in 64 bits
  not_finite,    ///< a rating is NaN or infinite
  out_of_scale,  ///< a rating is outside the layout's scale
};

struct line_fail {
  fail_kind kind = fail_kind::syntax;
  int field = 0;
};

/// The values of one parsed line (timestamp 0 when the layout has none).
struct line_values {
  std::int64_t user = 0;
  std::int64_t item = 0;
  std::int64_t timestamp = 0;
  double value = 0.0;
};

/// Parses the line starting at `p`. The text must hold a '\n' at or after the line's end,
/// followed by `read_slack` (number_scan.hpp) readable bytes: the parser looks at them but
/// never uses them. Returns the start of the next line, or nullptr with `fail` set.
const char* parse_line(const layout& l, const char* p, line_values& v, line_fail& fail) noexcept;

/// The fields of `line` (no '\n'; a trailing '\r' is ignored) as the layout splits them.
std::vector<std::string_view> split_fields(const layout& l, std::string_view line);

/// The error `name:line: reason` for a line that failed with `fail`.
error describe_failure(const layout& l, std::string_view name, std::uint64_t line,
                       std::string_view text, const line_fail& fail);

/// A direct-indexed front for an id_map: small non-negative ids (the usual case) find
/// their dense index in one array read instead of a hash probe. Kept only while it stays
/// dense (at most 16 slots, 64 bytes, per known id; 64 MB at most) and valid for one map
/// that only grows.
class id_cache {
 public:
  /// Dense index of `id` in `m`, inserting it into `m` if it is new.
  index_t insert(id_map& m, std::int64_t id) {
    auto key = static_cast<std::uint64_t>(id);
    if (key < slots_.size()) {
      if (auto s = slots_[key]) return s - 1;
    } else if (!widen(key, m.size())) {
      return m.insert(id);
    }
    auto index = m.insert(id);
    slots_[key] = index + 1;
    return index;
  }
  /// Forgets everything unless `m` is the map last used, not shrunk since.
  void bind(const id_map& m) {
    if (&m != map_ || m.size() < size_) slots_.clear();
    map_ = &m;
  }
  void note_size(const id_map& m) { size_ = m.size(); }

 private:
  bool widen(std::uint64_t key, std::size_t known) {
    std::uint64_t cap = std::max<std::uint64_t>(1 << 16, 16 * static_cast<std::uint64_t>(known));
    if (key >= cap || key >= (1ull << 24)) return false;
    slots_.resize(std::max<std::size_t>(2 * slots_.size(), static_cast<std::size_t>(key) + 1));
    return true;
  }

  std::vector<index_t> slots_;  // id -> index + 1, 0 when not cached
  const id_map* map_ = nullptr;
  std::uint32_t size_ = 0;
};

/// Where a parse is: the file name for messages, the mode, and what was seen so far.
struct parse_state {
  std::string name;
  bool strict = true;
  bool header_pending = false;
  ingest_report report;  ///< lines, ratings, skipped and first_errors accumulate here
  id_cache users;
  id_cache items;
};

/// Where parse_lines stopped, how many ratings it added, and the strict-mode error if any.
struct parse_stop {
  const char* pos = nullptr;
  std::size_t added = 0;
  std::optional<error> err;
};

/// Parses the whole lines of [p, end), which must end with '\n' and be followed by
/// `read_slack` readable bytes, appending at most `max`
/// ratings to `out` and inserting their ids. Stops early at `max`, or at the first bad
/// line in strict mode (appended ratings are left for the caller to undo).
parse_stop parse_lines(const layout& l, parse_state& st, const char* p, const char* end,
                       std::size_t max, id_map& users, id_map& items, std::vector<rating>& out);

/// The same, appending the ratings with the file's ids (no id map is touched).
parse_stop parse_lines(const layout& l, parse_state& st, const char* p, const char* end,
                       std::size_t max, std::vector<external_rating>& out);

/// Parses all of `text`, whatever its last byte (a final line without '\n' goes through
/// a small copy).
parse_stop parse_text(const layout& l, parse_state& st, std::string_view text, id_map& users,
                      id_map& items, std::vector<rating>& out);

/// Forgets the ids after the first `n` (undoes a failed read; O(n), error path only).
void truncate_ids(id_map& m, std::uint32_t n);

/// Bytes at the start of a file that format detection looks at.
inline constexpr std::size_t head_bytes = 64 * 1024;

/// Checks `opts` and works out the layout, detecting what `opts` leaves open from `head`,
/// a prefix of the text (`whole` when it is all of it). Detection failures name
/// `name:line`.
result<layout> resolve_layout(std::string_view head, bool whole, std::string_view name,
                              const ingest_options& opts);

}  // namespace recflow::detail
