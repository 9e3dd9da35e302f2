#include "cli/compare_output.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/chart.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/serve/html_report.hpp"

namespace recflow::cli {

namespace {

namespace fs = std::filesystem;

/// The data set's name for titles: --name, else the data file's folder ("ml-latest-small").
std::string data_name(const compare_cli_options& o) {
  if (!o.name.empty())
    return o.name;
  fs::path file = o.data.data.empty() ? fs::path(o.data.train) : fs::path(o.data.data);
  auto folder = fs::absolute(file).parent_path().filename().string();
  return folder.empty() ? file.filename().string() : folder;
}

nlohmann::json ranking_json(const ranking_metrics& m) {
  nlohmann::json j;
  add_ranking_json(j, m);
  return j;
}

}  // namespace

result<chart_files> render_compare_chart(const compare_cli_options& o, compare_chart c) {
  fs::path svg(o.chart);
  auto script = fs::path(svg).replace_extension(".gp").string();
  c.csv = o.csv;
  c.svg = o.chart;
  c.png = svg.extension() == ".svg" ? fs::path(svg).replace_extension(".png").string() : "";
  auto why = render_chart(script, compare_script(c), c.svg, c.png);
  if (!why)
    return why.err();
  chart_files out;
  out.script = script;
  if (why->empty()) {
    out.chart = c.svg;
    if (!c.png.empty() && fs::exists(c.png))
      out.png = c.png;
    std::cout << fmt::format("chart {}{}  (per-batch CSV {}, gnuplot script {})\n", c.svg,
                             out.png.is_null() ? "" : " and " + c.png, o.csv, script);
  } else {
    out.failed = o.chart_requested;
    std::cerr << fmt::format("recflow: {}; wrote the per-batch CSV {} and the gnuplot script "
                             "{}: render it with `{}`\n",
                             *why, o.csv, script, render_hint(script));
  }
  return out;
}

result<chart_files> draw_chart(const compare_cli_options& o, const loaded_data& data,
                               const compare_score& batch, const compare_stream_result& stream) {
  const auto& r = o.run;
  compare_chart c;
  c.title = fmt::format("{}: streaming vs batch ALS ({} training / {} validation ratings, "
                        "split {}, seed {})",
                        data_name(o), data.train.size(), data.test.size(), o.data.split, o.data.seed);
  c.detail = fmt::format("streaming (rank {}, batches of {}): {:.4f} after {} batches;  "
                         "batch ALS (rank {}, {} iterations): {:.4f}",
                         r.stream.rank, r.eval.batch_size, stream.score.errors.rmse,
                         stream.reports.size(), r.als.rank, r.als.iterations, batch.errors.rmse);
  c.trend_label = fmt::format("streaming trend (centered mean of {} batches)", r.smooth | 1);
  c.batch_rmse = batch.errors.rmse;
  return render_compare_chart(o, std::move(c));
}

result<std::string> write_compare_report(const compare_cli_options& o, const loaded_data& data,
                                         const compare_score& batch,
                                         const compare_stream_result& stream) {
  const auto& r = o.run;
  auto path = o.html.empty() ? fs::path(o.chart).replace_extension(".html").string() : o.html;
  serve::report_chart chart{.title = "Validation RMSE per batch", .x_label = "batch",
                            .y_label = "validation RMSE"};
  std::vector<double> rmse;
  for (const auto& b : stream.reports) {
    chart.x.push_back(double(b.batch));
    rmse.push_back(b.evaluated ? b.rmse : std::nan(""));
  }
  chart.series.push_back({.label = "streaming", .y = rmse});
  chart.series.push_back({.label = fmt::format("trend (centered mean of {} batches)", r.smooth | 1),
                          .y = centered_mean(rmse, r.smooth)});
  chart.series.push_back({.label = "batch ALS", .y = std::vector<double>(rmse.size(), batch.errors.rmse),
                          .dashed = true});
  serve::report_document doc{
    .title = fmt::format("{}: streaming vs batch ALS", data_name(o)),
    .notes = {fmt::format("{} training / {} validation ratings, split {}, seed {}.", data.train.size(),
                          data.test.size(), o.data.split, o.data.seed),
              fmt::format("Streaming (rank {}, {} passes, batches of {}): RMSE {:.4f} after {} batches. "
                          "Batch ALS (rank {}, {} iterations): RMSE {:.4f}.",
                          r.stream.rank, r.stream.passes, r.eval.batch_size, stream.score.errors.rmse,
                          stream.reports.size(), r.als.rank, r.als.iterations, batch.errors.rmse)},
    .charts = {std::move(chart)}};
  if (auto ok = serve::write_report(path, doc); !ok)
    return ok.err();
  std::cout << "HTML report " << path << '\n';
  return path;
}

nlohmann::json compare_summary(const compare_cli_options& o, const loaded_data& data,
                               const compare_score& batch, const compare_stream_result& stream,
                               const chart_files& files, double seconds) {
  const auto& r = o.run;
  return {{"command", "compare"},
          {"data", data_name(o)},
          {"stream_rmse", stream.score.errors.rmse},
          {"stream_mae", stream.score.errors.mae},
          {"batch_rmse", batch.errors.rmse},
          {"batch_mae", batch.errors.mae},
          {"batches", stream.reports.size()},
          {"batch_size", r.eval.batch_size},
          {"train_ratings", data.train.size()},
          {"test_ratings", stream.score.errors.count},
          {"smooth", r.smooth | 1},
          {"relevance", r.ranking.relevance},
          {"k", r.ranking.k},
          {"stream_ranking", ranking_json(stream.score.ranking)},
          {"batch_ranking", ranking_json(batch.ranking)},
          {"per_batch_csv", o.csv},
          {"chart", files.chart},
          {"chart_png", files.png},
          {"gnuplot_script", files.script},
          {"html_report", files.html},
          {"batch_seconds", batch.seconds},
          {"stream_seconds", stream.score.seconds},
          {"seconds", seconds}};
}

}  // namespace recflow::cli
