/// What `recflow compare` parses and writes besides its lines: the chart (through
/// gnuplot) and the JSON summary.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/batch_implicit.hpp"
#include "cli/chart.hpp"
#include "cli/data_options.hpp"
#include "recflow/job/compare.hpp"

namespace recflow::cli {

/// What `recflow compare` parses.
struct compare_cli_options {
  data_options data;
  compare_options run;
  std::string csv = "recflow-compare.csv";
  std::string chart = "recflow-compare.svg";
  bool chart_requested = false;  ///< --chart was given: failing to draw it is an error
  bool no_chart = false;
  std::string html;      ///< the HTML report; empty: the chart's path with .html
  bool no_html = false;
  std::string name;
  bool json = false;
  bool quiet = false;
  implicit_options implicit;  ///< --implicit: streaming against batch implicit ALS, by HR@k
};

/// What the chart step wrote: the SVG, the PNG, the script and the HTML report (null when
/// not written).
struct chart_files {
  nlohmann::json chart = nullptr, png = nullptr, script = nullptr, html = nullptr;
  bool failed = false;  ///< --chart was asked for and not drawn
};

/// `c` drawn at --chart (its csv, svg and png set from `o`): a gnuplot script beside it,
/// rendered when gnuplot is there; prints where. Not drawn: an error of the run only when
/// --chart was asked for (chart_files::failed).
result<chart_files> render_compare_chart(const compare_cli_options& o, compare_chart c);

/// The chart: a gnuplot script beside it, rendered when gnuplot is there; prints where.
result<chart_files> draw_chart(const compare_cli_options& o, const loaded_data& data,
                               const compare_score& batch, const compare_stream_result& stream);

/// The HTML report (the same chart, drawn by the browser; needs no gnuplot): its path.
result<std::string> write_compare_report(const compare_cli_options& o, const loaded_data& data,
                                         const compare_score& batch,
                                         const compare_stream_result& stream);

/// `recflow compare --implicit` (compare_implicit.cpp): runs it and prints; the exit code.
int run_compare_implicit(compare_cli_options& o);

/// The --json summary.
nlohmann::json compare_summary(const compare_cli_options& o, const loaded_data& data,
                               const compare_score& batch, const compare_stream_result& stream,
                               const chart_files& files, double seconds);

}  // namespace recflow::cli
