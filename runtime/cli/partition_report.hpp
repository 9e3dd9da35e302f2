/// What `recflow partitions` prints and writes: a terminal table, CSV, JSON, an SVG chart
/// (gnuplot) and an HTML report (dygraphs).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recflow/model/error.hpp"
#include "recflow/graph/partition_cost.hpp"

namespace recflow::cli {

/// One row per strategy and partition count, grouped by count.
std::string format_table(const std::vector<partition_cost>& costs);

/// `strategy,partitions,ratings,batches,max_ratings,imbalance,batch_imbalance,fetched_per_batch,
/// messages_per_batch,bytes_per_batch,keys_moved,keys_total,moved_fraction`.
result<void> write_csv(const std::string& path, const std::vector<partition_cost>& costs);

/// Four panels of grouped bars (one group per partition count, one bar per strategy):
/// imbalance over the whole set and per batch, kilobytes per batch, and the share of keys
/// moved when a partition is added. Drawn by gnuplot, as `recflow compare` draws: the
/// script (its data inline) is written beside `path` with the extension .gp and rendered
/// into `path`. True when the chart was drawn; false, after telling on stderr how to render
/// the script, when gnuplot is missing or fails; an error when the script cannot be written.
result<bool> write_chart(const std::string& path, const std::vector<partition_cost>& costs,
                         const std::string& title, std::size_t batch_size, int rank);

/// The same four measures as a self-contained HTML report (dygraphs, inlined), one chart
/// per measure with a line per strategy over the partition counts.
result<void> write_html_report(const std::string& path, const std::vector<partition_cost>& costs,
                              const std::string& title, std::size_t batch_size, int rank);

/// The rows as JSON, with the simulation time.
nlohmann::json to_json(const std::vector<partition_cost>& costs, double seconds);

}  // namespace recflow::cli
