/// Reading implicit feedback: event files (`user item [weight] [timestamp]`), or rating
/// files turned into events by a threshold; repeated events added up.
#pragma once

#include <optional>
#include <string>

#include "recflow/data/ingest.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// How to read events.
struct event_options {
  /// The file's layout. With no threshold, `detect` means `input_format::events`; a
  /// rating format reads its rating column as the weight.
  ingest_options ingest;
  /// Read a rating file and keep each rating >= this as an event of weight 1
  /// (`--implicit-threshold 4`: ratings of 4 and 5 are positive events); `ingest` then
  /// reads ratings as usual (detect: a rating format).
  std::optional<double> threshold;
};

/// "implicit threshold must be a finite number" and friends; empty when the options are fine.
result<void> validate(const event_options& o);

/// Reads `path` into a table of events (weight in `rating::value`), one per (user, item)
/// pair: repeated events add up (merge_events). The id maps hold every id the file names
/// (with a threshold, also users and items whose ratings all fall below it). Bad lines
/// fail as `FILE:LINE: reason`, or are skipped in lenient mode (counted in `report`).
result<rating_table> read_events(const std::string& path, const event_options& o = {},
                                 ingest_report* report = nullptr);

}  // namespace recflow
