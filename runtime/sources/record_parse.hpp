/// Ratings as brokers and sockets carry them: one record per line or per entry, checked
/// before it can reach a model, and a count of the records that were not ratings.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/graph/batch.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow {

/// What a record carries: a rating on the scale, or an implicit-feedback event
/// `user item [weight] [timestamp]` whose weight (default 1) is any positive finite number.
enum class record_kind { rating, event };

/// Parses `user SEP item SEP rating [SEP timestamp]`, SEP being a comma, tab, runs of
/// spaces or "::" (so MovieLens lines of every format pass). Ids are signed 64-bit
/// integers; the rating is finite and inside `scale`. A trailing '\r' is ignored. The
/// error says why, without a location (the caller knows the line or entry id). Events
/// (`kind` event) may leave the weight out, and the scale does not apply to it.
result<rating_event> parse_rating_text(std::string_view line, rating_scale scale,
                                       record_kind kind = record_kind::rating);

/// The fields of one record, checked as parse_rating_text checks a line's: `timestamp`
/// may be empty (then 0); for an event, so may `rating` (then 1).
result<rating_event> parse_rating_fields(std::string_view user, std::string_view item,
                                         std::string_view rating, std::string_view timestamp,
                                         rating_scale scale,
                                         record_kind kind = record_kind::rating);

/// Records a source read but could not use (the dead-letter count): thread-safe,
/// shared between a source and whoever reports on it.
class dead_letters {
 public:
  /// Counts one bad record; keeps the first `max_kept` reasons ("entry 17-0: ...").
  void add(std::string reason);
  std::uint64_t count() const noexcept { return count_.load(); }
  std::vector<std::string> first_reasons() const;
  static constexpr std::size_t max_kept = 10;

 private:
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex m_;
  std::vector<std::string> reasons_;
};

}  // namespace recflow
