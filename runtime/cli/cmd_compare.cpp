// `recflow compare`: batch ALS and streaming (both at their defaults) on the same split;
// the streaming RMSE per batch, its trend and the batch line as CSV and as a chart.
//   recflow compare --data ratings.csv --split 0.8 --seed 42 --batch-size 1000
//                   --csv compare.csv --chart compare.svg
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/compare_output.hpp"
#include "cli/data_options.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/job/compare.hpp"

namespace recflow::cli {

namespace {

int run_compare(compare_cli_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto& r = o.run;
  r.als.seed = o.data.seed;
  r.stream.seed = o.data.seed;
  r.eval.order_seed = o.data.seed;
  if (auto ok = validate(r); !ok)
    return report(ok.err());
  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  if (!o.quiet)
    std::cout << fmt::format("compare on {}: {} training / {} validation ratings\n",
                             data->source, data->train.size(), data->test.size());
  progress als_progress("batch ALS", static_cast<std::uint64_t>(r.als.iterations), "iterations",
                        !o.quiet);
  auto batch = compare_batch(data->train, data->test, r, [&](int it, double train_rmse) {
    als_progress.update(static_cast<std::uint64_t>(it), fmt::format("train rmse {:.4f}", train_rmse));
  });
  als_progress.finish();
  if (!batch)
    return report(batch.err());
  std::cout << fmt::format("batch ALS  rank {}, {} iterations: rmse {:.4f}  mae {:.4f}  ({:.2f} s)\n"
                           "           {}\n",
                           r.als.rank, r.als.iterations, batch->errors.rmse, batch->errors.mae,
                           batch->seconds, ranking_text(batch->ranking));
  auto n_batches = (data->train.size() + r.eval.batch_size - 1) / r.eval.batch_size;
  if (r.eval.max_batches > 0)
    n_batches = std::min(n_batches, r.eval.max_batches);
  progress stream_progress("streaming", n_batches, "batches", !o.quiet);
  auto stream = compare_stream(data->train, data->test, r, [&](const stream_report& b) {
    stream_progress.update(b.batch, fmt::format("rmse {:.4f}", b.rmse));
  });
  stream_progress.finish();
  if (!stream)
    return report(stream.err());
  const auto& se = stream->score.errors;
  std::cout << fmt::format("streaming  rank {}, {} passes, {} batches of {}: rmse {:.4f}  "
                           "mae {:.4f}  ({:.2f} s)\n           {}\n",
                           r.stream.rank, r.stream.passes, stream->reports.size(),
                           r.eval.batch_size, se.rmse, se.mae, stream->score.seconds,
                           ranking_text(stream->score.ranking));
  if (auto ok = write_compare_csv(o.csv, stream->reports, r.smooth, batch->errors.rmse); !ok)
    return report(ok.err());
  chart_files files;
  if (!o.no_chart) {
    auto drawn = draw_chart(o, *data, *batch, *stream);
    if (!drawn)
      return report(drawn.err());
    files = std::move(*drawn);
  } else {
    std::cout << "per-batch CSV " << o.csv << '\n';
  }
  if (!o.no_html && (!o.no_chart || !o.html.empty())) {
    auto html = write_compare_report(o, *data, *batch, *stream);
    if (!html)
      return report(html.err());
    files.html = *html;
  }
  std::cout << fmt::format("final: streaming rmse {:.4f}, batch ALS rmse {:.4f} ({:+.4f}); "
                           "ndcg@{} {:.4f} vs {:.4f}\n",
                           se.rmse, batch->errors.rmse, se.rmse - batch->errors.rmse,
                           r.ranking.k, stream->score.ranking.ndcg, batch->ranking.ndcg);
  if (o.json)
    print_json(compare_summary(
      o, *data, *batch, *stream, files,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  return files.failed ? exit_failure : exit_ok;
}

}  // namespace

void add_compare_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<compare_cli_options>();
  auto* cmd = app.add_subcommand(
    "compare", "Batch ALS versus streaming on one split: per-batch RMSE as CSV and a chart");
  o->data.add_to(*cmd);
  cmd->add_option("--batch-size", o->run.eval.batch_size, "Ratings per streaming micro-batch")
    ->capture_default_str();
  add_ranking_options(*cmd, o->run.ranking);
  cmd->add_option("--smooth", o->run.smooth,
                  "Trend: centered moving mean over this many batches (odd; narrower near the ends)")
    ->capture_default_str();
  cmd->add_option("--csv", o->csv, "Per-batch CSV (batch, ratings_seen, stream_rmse, "
                                   "stream_rmse_trend, batch_als_rmse)")
    ->capture_default_str();
  auto* chart = cmd->add_option("--chart", o->chart,
                                "SVG chart (gnuplot; a .png beside it too when pngcairo "
                                "exists, and the .gp script always)")
                  ->capture_default_str();
  cmd->add_flag("--no-chart", o->no_chart, "Only the CSV (and the HTML report if --html is given)");
  cmd->add_option("--html", o->html,
                  "HTML report with the same chart, drawn in the browser, self-contained and "
                  "offline (default: the chart's path with .html)");
  cmd->add_flag("--no-html", o->no_html, "No HTML report");
  cmd->add_option("--name", o->name, "Data set name for the chart title (default: its folder)");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", o->quiet, "Fewer lines");
  o->implicit.add_to(*cmd, "Implicit feedback: batch implicit ALS against streaming implicit ALS "
                           "on events 'user item [weight] [timestamp]', each user's latest held "
                           "out: HR@k after every batch of the stream (CSV, chart, report)");
  cmd->callback([o, chart, cmd, &exit_status] {
    o->chart_requested = chart->count() > 0;
    if (!o->implicit.implicit)  // the implicit options alone would be silently ignored
      for (const auto& name : implicit_options::option_names())
        if (cmd->count(name) > 0) {
          exit_status = report(error{errc::invalid_argument, name + " is for compare --implicit"});
          return;
        }
    exit_status = o->implicit.implicit ? run_compare_implicit(*o) : run_compare(*o);
  });
}

}  // namespace recflow::cli
