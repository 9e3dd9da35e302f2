/// Reading rating files: MovieLens 100K `u.data`, ml-latest `ratings.csv`, MovieLens 1M
/// `ratings.dat`, and generic delimited text; strict or lenient about bad lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// The layout of a rating file.
///
/// Detection reads up to 32 non-blank lines from the first 64 KiB and tries
/// `user item rating [timestamp]` separated by `::`, tabs, commas or blanks (runs of
/// spaces and tabs); the layout that reads the most lines wins. A first line that does not
/// read and holds a letter is a header. Four tab-separated fields without a header are
/// `ml100k`, four `::`-separated fields `ml_dat`, four comma-separated fields with a header
/// `ml_csv`; anything else is `delimited` (columns 0,1,2 and 3 if present).
///
/// Every line must have the layout's number of fields; spaces around a field are allowed
/// (except with blank separators, where they separate). Lines end in LF or CRLF; the last
/// may lack its newline; blank lines are skipped but counted.
enum class input_format {
  detect,      ///< sniff the first lines (the default)
  ml100k,      ///< `user<TAB>item<TAB>rating<TAB>timestamp`, no header, scale 1..5
  ml_csv,      ///< `userId,movieId,rating,timestamp` with a header, scale 0.5..5
  ml_dat,      ///< `user::item::rating::timestamp`, no header, scale 1..5
  delimited,   ///< generic: separator, header and column order from `ingest_options`
  /// Implicit feedback: `user item [weight] [timestamp]`, one event per line (a click, a
  /// play, a purchase). The separator (`::`, tabs, commas or blanks), the number of fields
  /// (2, 3 or 4, the same on every line) and a header are detected as above. The weight (a
  /// count or a strength) defaults to 1 and must be positive and a normal float (1.2e-38
  /// .. 3.4e38), or within `scale` when one is given; it is read into `rating::value`. Repeated events are not merged here:
  /// `read_events` (data/events.hpp) adds them up.
  events,
};

/// Parses "detect", "ml100k", "ml-csv", "ml-dat", "delimited", "events"; nothing if unknown.
std::optional<input_format> parse_input_format(std::string_view name) noexcept;
const char* to_string(input_format f) noexcept;

/// How to read a rating file. Defaults suit the MovieLens formats.
struct ingest_options {
  input_format format = input_format::detect;
  /// Field separator for `delimited` ("\t", ",", " ", "::", ...); empty means detect.
  /// " " stands for runs of spaces and tabs. With `detect`, a separator given here is the
  /// only one tried.
  std::string separator;
  /// Whether the first line is a header (`delimited` only; ml_csv always has one).
  bool header = false;
  /// Zero-based column of each field (`delimited` only); timestamp -1 means none. A
  /// delimited line has the sample's most common number of fields, at least enough for
  /// these columns; other columns are skipped.
  int user_column = 0;
  int item_column = 1;
  int rating_column = 2;
  int timestamp_column = 3;
  /// Valid ratings; nothing means the format's own scale (1..5, or 0.5..5 for ml_csv
  /// and for delimited files).
  std::optional<rating_scale> scale;
  /// Strict: the first bad line fails the read with `file:line: reason`. Lenient: bad
  /// lines are skipped and counted in the report.
  bool strict = true;
};

/// What a read saw.
struct ingest_report {
  /// The format used (after detection); `detect` when the text had no line to look at.
  input_format format = input_format::detect;
  std::uint64_t lines = 0;       ///< lines read, header and blank lines included
  std::uint64_t ratings = 0;     ///< ratings added
  std::uint64_t skipped = 0;     ///< bad lines skipped (lenient mode)
  std::vector<std::string> first_errors;  ///< up to 10 `file:line: reason` messages
};

/// Reads `path` and appends its ratings to `table`, inserting new external ids into the
/// table's id maps (so a train and a test file can share one id space), and sets
/// `table.scale` to the scale used. On a strict-mode error the table is left as it was.
///
/// Errors: errc::io naming the path (missing, unreadable, a directory);
/// errc::invalid_argument for bad options; errc::parse or errc::invalid_value as
/// `FILE:LINE: reason` (LINE 1-based, header and blank lines counted) for a bad line in
/// strict mode, or for a file whose format cannot be detected. An empty file reads as
/// zero ratings. The file is memory-mapped (read whole if it cannot be); to stream a
/// large file in batches use `rating_reader` (data/rating_reader.hpp).
result<ingest_report> read_ratings_into(const std::string& path, const ingest_options& opts,
                                        rating_table& table);

/// Reads `path` into a new table.
result<rating_table> read_ratings(const std::string& path, const ingest_options& opts = {},
                                  ingest_report* report = nullptr);

/// Parses text already in memory; `name` stands for the file name in messages.
result<ingest_report> parse_ratings_into(std::string_view text, std::string_view name,
                                         const ingest_options& opts, rating_table& table);

}  // namespace recflow
