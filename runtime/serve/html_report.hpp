/// A static HTML report: charts drawn by the dashboard's chart library (dygraphs), with the
/// library, the styles and the data inlined, so the one file opens offline anywhere. What
/// `recflow compare` and `recflow partitions` write beside their CSV.
///
///   report_document doc{.title = "ml-100k: streaming vs batch ALS"};
///   doc.charts.push_back({.title = "Validation RMSE", .x_label = "batch", .y_label = "RMSE",
///                         .x = {1, 2, 3}, .series = {{.label = "stream", .y = {1.1, 1.0, 0.97}}}});
///   write_report("compare.html", doc);
#pragma once

#include <string>
#include <vector>

#include "recflow/model/error.hpp"

namespace recflow::serve {

/// One line of a chart; NaN values are gaps.
struct report_series {
  std::string label{};
  std::vector<double> y{};  ///< one value per x of the chart
  bool dashed = false;
};

struct report_chart {
  std::string title{};
  std::string x_label{}, y_label{};
  std::vector<double> x{};  ///< increasing
  std::vector<report_series> series{};
  bool points = false;    ///< mark every value (for few x values)
};

struct report_document {
  std::string title{};
  std::vector<std::string> notes{};  ///< paragraphs under the title (plain text)
  std::vector<report_chart> charts{};
};

/// The page. Text is HTML-escaped and the data is inlined as JSON that cannot end its
/// script element. Fails (errc::invalid_argument) when a series' length differs from x's.
result<std::string> render_report(const report_document& doc);

/// Renders and writes `path`; "cannot write PATH" (errc::io) when it cannot.
result<void> write_report(const std::string& path, const report_document& doc);

}  // namespace recflow::serve
