// `recflow compare`: batch ALS and streaming (both at their defaults) on the same split;
// the streaming RMSE per batch, its trend and the batch line as CSV and as a chart.
//   recflow compare --data ratings.csv --split 0.8 --seed 42 --batch-size 1000
//                   --csv compare.csv --chart compare.svg
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "cli/chart.hpp"
#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow::cli {

namespace {

namespace fs = std::filesystem;

struct compare_options {
  data_options data;
  als_params als;
  stream_params stream;
  stream_eval_options eval;
  ranking_options ranking;
  std::size_t smooth = 9;
  std::string csv = "recflow-compare.csv";
  std::string chart = "recflow-compare.svg";
  bool chart_requested = false;  ///< --chart was given: failing to draw it is an error
  bool no_chart = false;
  std::string name;
  bool json = false;
  bool quiet = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Centered moving mean over `window` values (an even window is widened by one). Near
/// the ends the window shrinks symmetrically (the first and last values are their own
/// trend), so the trend stays centered: it neither lags like an exponential average nor
/// leans on one side.
std::vector<double> centered_mean(const std::vector<double>& v, std::size_t window) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::size_t half = std::min({window / 2, i, v.size() - 1 - i});
    const std::size_t lo = i - half;
    const std::size_t hi = i + half + 1;
    double sum = 0.0;
    for (std::size_t j = lo; j < hi; ++j)
      sum += v[j];
    out[i] = sum / static_cast<double>(hi - lo);
  }
  return out;
}

/// The data set's name for titles: --name, else the data file's folder ("ml-latest-small").
std::string data_name(const compare_options& o) {
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

int run_compare(compare_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  o.als.seed = o.data.seed;
  o.stream.seed = o.data.seed;
  o.eval.order_seed = o.data.seed;
  if (o.smooth == 0)
    return report({errc::invalid_argument, "--smooth must be positive, got 0"});
  for (auto ok : {validate(o.als), validate(o.stream), validate(o.eval), validate(o.ranking)})
    if (!ok)
      return report(ok.err());
  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  const auto name = data_name(o);
  if (!o.quiet)
    std::cout << fmt::format("compare on {}: {} training / {} validation ratings\n",
                             data->source, data->train.size(), data->test.size());

  // Batch ALS on every training rating at once.
  auto tb = std::chrono::steady_clock::now();
  progress als_progress("batch ALS", static_cast<std::uint64_t>(o.als.iterations), "iterations",
                        !o.quiet);
  auto als = train_als(data->train, o.als, [&](int it, double train_rmse) {
    als_progress.update(static_cast<std::uint64_t>(it), fmt::format("train rmse {:.4f}", train_rmse));
  });
  als_progress.finish();
  if (!als)
    return report(als.err());
  const auto batch_err = evaluate(*als, data->test);
  const auto batch_rank = evaluate_ranking(*als, data->test, o.ranking);
  const double batch_seconds = seconds_since(tb);
  std::cout << fmt::format("batch ALS  rank {}, {} iterations: rmse {:.4f}  mae {:.4f}  ({:.2f} s)\n"
                           "           {}\n",
                           o.als.rank, o.als.iterations, batch_err.rmse, batch_err.mae,
                           batch_seconds, ranking_text(batch_rank));

  // Streaming, one micro-batch at a time, evaluated after each.
  auto ts = std::chrono::steady_clock::now();
  auto trainer = streaming_trainer::make(o.stream, data->train.scale);
  if (!trainer)
    return report(trainer.err());
  auto n_batches = (data->train.size() + o.eval.batch_size - 1) / o.eval.batch_size;
  if (o.eval.max_batches > 0)
    n_batches = std::min(n_batches, o.eval.max_batches);
  progress stream_progress("streaming", n_batches, "batches", !o.quiet);
  auto reports = stream_evaluate(*trainer, data->train, data->test, o.eval,
                                 [&](const stream_report& r) {
                                   stream_progress.update(r.batch,
                                                          fmt::format("rmse {:.4f}", r.rmse));
                                 });
  stream_progress.finish();
  if (!reports)
    return report(reports.err());
  auto& model = trainer->model();
  model.rated() = rated_in_model(model, data->train.ratings, data->train.users, data->train.items);
  const auto stream_err = evaluate(model, data->test);
  const auto stream_rank = evaluate_ranking(model, data->test, o.ranking);
  const double stream_seconds = seconds_since(ts);
  std::cout << fmt::format("streaming  rank {}, {} passes, {} batches of {}: rmse {:.4f}  "
                           "mae {:.4f}  ({:.2f} s)\n           {}\n",
                           o.stream.rank, o.stream.passes, reports->size(), o.eval.batch_size,
                           stream_err.rmse, stream_err.mae, stream_seconds,
                           ranking_text(stream_rank));

  // Per-batch CSV.
  std::vector<double> rmse;
  for (const auto& r : *reports)
    rmse.push_back(r.rmse);
  const auto trend = centered_mean(rmse, o.smooth | 1);
  {
    std::ofstream csv(o.csv);
    if (!csv)
      return report({errc::io, o.csv + ": cannot write the per-batch CSV"});
    csv << "batch,ratings_seen,stream_rmse,stream_rmse_trend,batch_als_rmse\n";
    for (std::size_t b = 0; b < reports->size(); ++b)
      csv << fmt::format("{},{},{:.6f},{:.6f},{:.6f}\n", (*reports)[b].batch,
                         (*reports)[b].ratings_seen, rmse[b], trend[b], batch_err.rmse);
    if (!csv.flush())
      return report({errc::io, o.csv + ": cannot write the per-batch CSV"});
  }

  // Chart: a gnuplot script beside it, rendered when gnuplot is there.
  nlohmann::json chart = nullptr, png = nullptr, script_json = nullptr;
  bool chart_failed = false;
  if (!o.no_chart) {
    fs::path svg(o.chart);
    auto script = fs::path(svg).replace_extension(".gp").string();
    compare_chart c;
    c.csv = o.csv;
    c.svg = o.chart;
    c.png = svg.extension() == ".svg" ? fs::path(svg).replace_extension(".png").string() : "";
    c.title = fmt::format("{}: streaming vs batch ALS ({} training / {} validation ratings, "
                          "split {}, seed {})",
                          name, data->train.size(), data->test.size(), o.data.split, o.data.seed);
    c.detail = fmt::format("streaming (rank {}, batches of {}): {:.4f} after {} batches;  "
                           "batch ALS (rank {}, {} iterations): {:.4f}",
                           o.stream.rank, o.eval.batch_size, stream_err.rmse, reports->size(),
                           o.als.rank, o.als.iterations, batch_err.rmse);
    c.trend_label = fmt::format("streaming trend (centered mean of {} batches)", o.smooth | 1);
    c.batch_rmse = batch_err.rmse;
    if (auto w = write_text(script, compare_script(c)); !w)
      return report(w.err());
    script_json = script;
    std::error_code ec;
    fs::remove(c.svg, ec);
    if (!c.png.empty())
      fs::remove(c.png, ec);
    if (auto drawn = run_gnuplot(script); drawn && fs::exists(c.svg)) {
      chart = c.svg;
      if (!c.png.empty() && fs::exists(c.png))
        png = c.png;
      std::cout << fmt::format("chart {}{}  (per-batch CSV {}, gnuplot script {})\n", c.svg,
                               png.is_null() ? "" : " and " + c.png, o.csv, script);
    } else {
      chart_failed = o.chart_requested;
      std::cerr << fmt::format("recflow: {}; wrote the per-batch CSV {} and the gnuplot script "
                               "{}: render it with `{}`\n",
                               drawn ? "gnuplot wrote no chart" : drawn.err().message, o.csv,
                               script, render_hint(script));
    }
  } else {
    std::cout << "per-batch CSV " << o.csv << '\n';
  }
  std::cout << fmt::format("final: streaming rmse {:.4f}, batch ALS rmse {:.4f} ({:+.4f}); "
                           "ndcg@{} {:.4f} vs {:.4f}\n",
                           stream_err.rmse, batch_err.rmse, stream_err.rmse - batch_err.rmse,
                           o.ranking.k, stream_rank.ndcg, batch_rank.ndcg);
  if (o.json) {
    nlohmann::json j{{"command", "compare"},
                     {"data", name},
                     {"stream_rmse", stream_err.rmse},
                     {"stream_mae", stream_err.mae},
                     {"batch_rmse", batch_err.rmse},
                     {"batch_mae", batch_err.mae},
                     {"batches", reports->size()},
                     {"batch_size", o.eval.batch_size},
                     {"train_ratings", data->train.size()},
                     {"test_ratings", stream_err.count},
                     {"smooth", o.smooth | 1},
                     {"relevance", o.ranking.relevance},
                     {"k", o.ranking.k},
                     {"stream_ranking", ranking_json(stream_rank)},
                     {"batch_ranking", ranking_json(batch_rank)},
                     {"per_batch_csv", o.csv},
                     {"chart", chart},
                     {"chart_png", png},
                     {"gnuplot_script", script_json},
                     {"batch_seconds", batch_seconds},
                     {"stream_seconds", stream_seconds},
                     {"seconds", seconds_since(t0)}};
    print_json(j);
  }
  return chart_failed ? exit_failure : exit_ok;
}

}  // namespace

void add_compare_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<compare_options>();
  auto* cmd = app.add_subcommand(
    "compare", "Batch ALS versus streaming on one split: per-batch RMSE as CSV and a chart");
  o->data.add_to(*cmd);
  cmd->add_option("--batch-size", o->eval.batch_size, "Ratings per streaming micro-batch")
    ->capture_default_str();
  add_ranking_options(*cmd, o->ranking);
  cmd->add_option("--smooth", o->smooth,
                  "Trend: centered moving mean over this many batches (odd; narrower near the ends)")
    ->capture_default_str();
  cmd->add_option("--csv", o->csv, "Per-batch CSV (batch, ratings_seen, stream_rmse, "
                                   "stream_rmse_trend, batch_als_rmse)")
    ->capture_default_str();
  auto* chart = cmd->add_option("--chart", o->chart,
                                "SVG chart (gnuplot; a .png beside it too when pngcairo "
                                "exists, and the .gp script always)")
                  ->capture_default_str();
  cmd->add_flag("--no-chart", o->no_chart, "Only the CSV");
  cmd->add_option("--name", o->name, "Data set name for the chart title (default: its folder)");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", o->quiet, "Fewer lines");
  cmd->callback([o, chart, &exit_status] {
    o->chart_requested = chart->count() > 0;
    exit_status = run_compare(*o);
  });
}

}  // namespace recflow::cli
