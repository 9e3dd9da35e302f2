#include "recflow/data/events.hpp"

#include <cmath>

#include "recflow/model/events.hpp"

namespace recflow {

result<void> validate(const event_options& o) {
  if (o.threshold && !std::isfinite(*o.threshold))
    return error{errc::invalid_argument, "implicit threshold must be a finite number"};
  return {};
}

result<rating_table> read_events(const std::string& path, const event_options& o,
                                 ingest_report* report) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto ingest = o.ingest;
  if (!o.threshold && ingest.format == input_format::detect)
    ingest.format = input_format::events;
  auto table = read_ratings(path, ingest, report);
  if (!table)
    return table.err();
  if (o.threshold)
    table->ratings = events_from_ratings(table->ratings, *o.threshold);
  table->ratings = merge_events(table->ratings);
  return table;
}

}  // namespace recflow
