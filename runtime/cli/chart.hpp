/// Charts through gnuplot: write a script that reads a CSV, render it if gnuplot exists.
#pragma once

#include <string>
#include <vector>

#include "recflow/model/error.hpp"

namespace recflow::cli {

/// The streaming-versus-batch chart of `recflow compare`.
struct compare_chart {
  /// Per-batch CSV with the header `batch,ratings_seen,stream_rmse,stream_rmse_trend,
  /// batch_als_rmse` (as cmd_compare writes it).
  std::string csv;
  std::string svg;     ///< the SVG to write (always)
  std::string png;     ///< a PNG to write too when gnuplot has pngcairo; empty: none
  std::string title;   ///< first line of the title (data set and split)
  std::string detail;  ///< second line (the numbers)
  std::string trend_label;  ///< legend of the smoothed series, e.g. "centered mean of 9 batches"
  double batch_rmse = 0.0;  ///< drawn as a horizontal line (the batch figure, RMSE or not)
  /// What is measured (`recflow compare --implicit` draws HR@k instead of RMSE): the axes,
  /// the points' legend and the batch line's (a printf format of its value).
  std::string x_label = "training ratings streamed";
  std::string y_label = "validation RMSE (lower is better)";
  std::string points_label = "streaming: RMSE after each batch";
  std::string batch_label = "batch ALS on all training ratings: %.4f";
  std::string key = "top right";  ///< where the legend goes (gnuplot's `set key` words)
};

/// One panel of grouped bars: a value per group and series (NaN: no bar).
struct bar_panel {
  std::string heading;  ///< above the panel
  std::string y_label;
  double y_min = 0.0;   ///< where the bars start (1 for a ratio whose best is 1)
  int decimals = 0;     ///< of the value printed above each bar
  std::vector<std::vector<double>> values;  ///< [group][series]
};

/// Panels of grouped bars stacked in one chart (`recflow partitions`: a group per
/// partition count, a bar per strategy, a panel per measure).
struct bar_chart {
  std::string svg;       ///< the SVG to write
  std::string title;     ///< first line of the title
  std::string subtitle;  ///< second line
  std::vector<std::string> groups;  ///< labels under the groups, e.g. "4 partitions"
  std::vector<std::string> series;  ///< the legend, one bar of each per group
  std::vector<std::string> colors;  ///< per series, e.g. "#0072B2" (cycled)
  std::vector<bar_panel> panels;
};

/// The gnuplot program to run: $RECFLOW_GNUPLOT when set, else "gnuplot" from PATH.
std::string gnuplot_program();

/// True when gnuplot_program() can be run.
bool gnuplot_available();

/// The gnuplot script that draws `c` (SVG, then PNG when the terminal exists).
std::string compare_script(const compare_chart& c);

/// The gnuplot script that draws `c` as SVG, its data inline (a multiplot of clustered
/// histograms, one panel per measure, each bar labelled with its value).
std::string bar_chart_script(const bar_chart& c);

/// Writes `script` to `path`; an errc::io error when it cannot.
result<void> write_text(const std::string& path, const std::string& text);

/// Runs gnuplot on the script file; errc::not_found when gnuplot cannot be run, errc::io
/// when it fails (its messages go to stderr).
result<void> run_gnuplot(const std::string& script_path);

/// A command line that renders the script by hand: "gnuplot 'FILE'".
std::string render_hint(const std::string& script_path);

/// Writes `script` to `script_path`, removes `chart` and `also` (a second output; empty:
/// none) left from an earlier run, so that an old file cannot pass for this run's, and
/// renders the script. Empty when gnuplot wrote `chart`; else why not (gnuplot missing or
/// failing, or no chart written), for a message that names render_hint(). An error only
/// when the script cannot be written.
result<std::string> render_chart(const std::string& script_path, const std::string& script,
                                 const std::string& chart, const std::string& also = "");

}  // namespace recflow::cli
