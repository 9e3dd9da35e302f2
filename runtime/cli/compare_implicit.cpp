// `recflow compare --implicit`: batch implicit ALS and streaming implicit ALS on the same
// leave-latest-out split; HR@k after every batch of the stream, its trend and the batch
// line, as CSV, a gnuplot chart and an HTML report (job/implicit_stream_job.hpp).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "cli/chart.hpp"
#include "cli/compare_output.hpp"
#include "cli/output.hpp"
#include "recflow/job/compare.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "recflow/serve/html_report.hpp"

namespace recflow::cli {

namespace {

namespace fs = std::filesystem;

/// `batch,events_seen,stream_hr_at_k,stream_hr_at_k_trend,batch_hr_at_k` per batch.
result<void> write_csv(const std::string& path, const implicit_compare_result& r,
                       const std::vector<double>& hr, const std::vector<double>& trend) {
  std::ofstream out(path);
  out << "batch,events_seen,stream_hr_at_k,stream_hr_at_k_trend,batch_hr_at_k\n";
  for (std::size_t j = 0; j < r.reports.size(); ++j)
    out << fmt::format("{},{},{:.6f},{:.6f},{:.6f}\n", r.reports[j].batch, r.reports[j].streamed,
                       hr[j], trend[j], r.batch.hit_rate);
  if (!out.flush())
    return error{errc::io, path + ": cannot write the per-batch CSV"};
  return {};
}

}  // namespace

int run_compare_implicit(compare_cli_options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (auto ok = o.implicit.parse_words(); !ok)
    return report(ok.err());
  implicit_stream_job_options job;
  job.params.als = o.implicit.job.als;
  job.params.als.seed = o.data.seed;
  job.split_seed = job.order_seed = job.ranking.seed = o.data.seed;
  job.ranking.k = o.run.ranking.k;
  job.ranking.negatives = o.implicit.job.ranking.negatives;
  job.batch_size = o.run.eval.batch_size;
  job.max_batches = o.run.eval.max_batches;
  if (o.run.smooth == 0)
    return report(error{errc::invalid_argument, "--smooth must be positive, got 0"});
  std::string file;
  auto read = o.implicit.read(o.data, file);
  if (!read)
    return report(read.err());
  const auto& events = *read;
  if (!o.quiet)
    std::cout << fmt::format("compare on {} ({}): batch implicit ALS, then streaming in batches "
                             "of {} (time order, actor graph)\n",
                             file, o.implicit.events_text(), job.batch_size);
  auto run = run_implicit_compare(events, job);
  if (!run)
    return report(run.err());
  const auto& r = *run;
  const auto k = job.ranking.k;
  const auto& p = job.params.als;
  std::vector<double> hr;
  for (const auto& b : r.reports)
    hr.push_back(b.ranking ? b.ranking->hit_rate : std::nan(""));
  const auto trend = centered_mean(hr, o.run.smooth);
  std::cout << fmt::format("batch implicit ALS  rank {}, {} iterations: HR@{} {:.4f}  NDCG@{} "
                           "{:.4f}  ({:.2f} s)\n",
                           p.rank, p.iterations, k, r.batch.hit_rate, k, r.batch.ndcg,
                           r.batch_seconds);
  std::cout << fmt::format("streaming           rank {}, {} batches of {}: HR@{} {:.4f}  NDCG@{} "
                           "{:.4f}  ({:.2f} s of updates)\n",
                           p.rank, r.stream.batches, job.batch_size, k, r.stream.ranking.hit_rate,
                           k, r.stream.ranking.ndcg, r.stream.stream_seconds);
  if (auto ok = write_csv(o.csv, r, hr, trend); !ok)
    return report(ok.err());

  chart_files files;
  const auto title = fmt::format("{}: streaming vs batch implicit ALS ({} training events, {} "
                                 "held out, seed {})",
                                 fs::path(file).parent_path().filename().string(),
                                 r.stream.train_events, r.stream.held_out, o.data.seed);
  if (!o.no_chart) {
    compare_chart c;
    c.title = title;
    c.detail = fmt::format("streaming: HR@{} {:.4f} after {} batches;  batch implicit ALS: {:.4f}",
                           k, r.stream.ranking.hit_rate, r.stream.batches, r.batch.hit_rate);
    c.trend_label = fmt::format("streaming trend (centered mean of {} batches)", o.run.smooth | 1);
    c.batch_rmse = r.batch.hit_rate;
    c.x_label = "training events streamed";
    c.y_label = fmt::format("HR@{} of the held-out events (higher is better)", k);
    c.points_label = fmt::format("streaming: HR@{} after each batch", k);
    c.batch_label = "batch implicit ALS on all training events: %.4f";
    c.key = "top left";  // HR@k rises from 0 as the stream reaches the held-out users
    auto drawn = render_compare_chart(o, std::move(c));
    if (!drawn)
      return report(drawn.err());
    files = std::move(*drawn);
  } else {
    std::cout << "per-batch CSV " << o.csv << '\n';
  }
  if (!o.no_html && (!o.no_chart || !o.html.empty())) {
    const auto path = o.html.empty() ? fs::path(o.chart).replace_extension(".html").string() : o.html;
    serve::report_chart chart{.title = fmt::format("HR@{} per batch", k), .x_label = "batch",
                              .y_label = fmt::format("HR@{}", k)};
    for (const auto& b : r.reports)
      chart.x.push_back(double(b.batch));
    chart.series.push_back({.label = "streaming", .y = hr});
    chart.series.push_back({.label = fmt::format("trend (centered mean of {} batches)", o.run.smooth | 1),
                            .y = trend});
    chart.series.push_back({.label = "batch implicit ALS",
                            .y = std::vector<double>(hr.size(), r.batch.hit_rate), .dashed = true});
    serve::report_document doc{
      .title = title,
      .notes = {fmt::format("Each user's latest event held out and ranked against {} sampled "
                            "items; streaming from an empty model in batches of {}, time order. "
                            "A held-out event of a user the stream has not reached yet is a "
                            "miss, so HR@k rises as the users arrive.",
                            job.ranking.negatives, job.batch_size),
                fmt::format("Streaming: HR@{0} {1:.4f}, NDCG@{0} {2:.4f}. Batch implicit ALS: "
                            "HR@{0} {3:.4f}, NDCG@{0} {4:.4f}. Item popularity: HR@{0} {5:.4f}.",
                            k, r.stream.ranking.hit_rate, r.stream.ranking.ndcg, r.batch.hit_rate,
                            r.batch.ndcg, r.stream.popularity.hit_rate)},
      .charts = {std::move(chart)}};
    if (auto ok = serve::write_report(path, doc); !ok)
      return report(ok.err());
    std::cout << "HTML report " << path << '\n';
    files.html = path;
  }
  std::cout << fmt::format("final: streaming HR@{0} {1:.4f}, batch implicit ALS HR@{0} {2:.4f} "
                           "({3:+.4f}); popularity {4:.4f}\n",
                           k, r.stream.ranking.hit_rate, r.batch.hit_rate,
                           r.stream.ranking.hit_rate - r.batch.hit_rate,
                           r.stream.popularity.hit_rate);
  if (o.json)
    print_json({{"command", "compare"}, {"feedback", "implicit"}, {"data", file},
                {"k", k}, {"negatives", job.ranking.negatives},
                {fmt::format("stream_hr_at_{}", k), r.stream.ranking.hit_rate},
                {fmt::format("stream_ndcg_at_{}", k), r.stream.ranking.ndcg},
                {fmt::format("batch_hr_at_{}", k), r.batch.hit_rate},
                {fmt::format("batch_ndcg_at_{}", k), r.batch.ndcg},
                {fmt::format("popularity_hr_at_{}", k), r.stream.popularity.hit_rate},
                {"batches", r.stream.batches}, {"batch_size", job.batch_size},
                {"train_events", r.stream.train_events}, {"held_out", r.stream.held_out},
                {"smooth", o.run.smooth | 1}, {"per_batch_csv", o.csv}, {"chart", files.chart},
                {"chart_png", files.png}, {"gnuplot_script", files.script},
                {"html_report", files.html}, {"batch_seconds", r.batch_seconds},
                {"stream_seconds", r.stream.stream_seconds},
                {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  return files.failed ? exit_failure : exit_ok;
}

}  // namespace recflow::cli
