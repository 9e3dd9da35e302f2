// `recflow partitions`: simulate partitioning strategies on a data set (no training) and
// report, per strategy and partition count, the rating imbalance, the factors fetched,
// the messages and bytes per micro-batch, and the keys moved when a partition is added.
#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/output.hpp"
#include "cli/partition_report.hpp"
#include "cli/partitions_measure.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/job/partition_job.hpp"

namespace recflow::cli {

namespace {

struct partitions_options {
  data_options data;        ///< only data, format, separator, header, columns, lenient
  std::string counts = "2,4,8,16";
  std::string strategy = "all";
  std::size_t batch_size = 1000;
  cost_model cost;
  std::string csv, chart, html;
  bool json = false;
  bool measure = false;
  std::size_t measure_batches = 5;
};

/// --data FILE (read whole) or --data synthetic:N.
result<partition_data> open_data(const partitions_options& o) {
  const std::string prefix = "synthetic:";
  if (o.data.data.rfind(prefix, 0) == 0) {
    std::uint64_t n = 0;
    try {
      n = std::stoull(o.data.data.substr(prefix.size()));
    } catch (...) {
    }
    if (n == 0)
      return error{errc::invalid_argument, "--data synthetic:N wants a positive N, got '" + o.data.data + "'"};
    return partition_data::synthetic_ratings(n, o.data.seed);
  }
  if (o.data.data.empty())
    return error{errc::invalid_argument, "--data FILE or --data synthetic:N is required"};
  auto io = make_ingest_options(o.data);
  if (!io)
    return io.err();
  auto t = read_ratings(o.data.data, *io);
  if (!t)
    return t.err();
  return partition_data::from_table(std::move(*t), o.data.data);
}

int run_partitions(partitions_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto counts = parse_partition_counts(o.counts);
  if (!counts)
    return report(counts.err());
  auto strategies = parse_partition_strategies(o.strategy);
  if (!strategies)
    return report(strategies.err());
  if (auto ok = validate(o.cost); !ok)
    return report(ok.err());
  if (o.batch_size == 0)
    return report({errc::invalid_argument, "batch size must be positive, got 0"});
  auto data = open_data(o);
  if (!data)
    return report(data.err());

  auto simulated = simulate_partitions(*data, *counts, *strategies, o.cost, o.batch_size);
  if (!simulated)
    return report(simulated.err());
  auto& costs = *simulated;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::cout << data->name << '\n'
            << fmt::format("batches of {} ratings, rank {}, {} pass(es): a fetch ships {} bytes "
                           "(row out, gradient back), a routed rating {} bytes\n",
                           o.batch_size, o.cost.rank, o.cost.passes, o.cost.fetch_bytes(),
                           o.cost.rating_bytes)
            << format_table(costs)
            << fmt::format("simulated {} strategies x {} counts in {:.2f} s\n", strategies->size(),
                           counts->size(), seconds);
  if (!o.csv.empty())
    if (auto ok = write_csv(o.csv, costs); !ok)
      return report(ok.err());
  bool chart_failed = false;  // as `recflow compare`: the other outputs still, then status 1
  if (!o.chart.empty()) {
    auto drawn = write_chart(o.chart, costs, data->name, o.batch_size, o.cost.rank);
    if (!drawn)
      return report(drawn.err());
    chart_failed = !*drawn;
  }
  if (!o.html.empty()) {
    if (auto ok = write_html_report(o.html, costs, data->name, o.batch_size, o.cost.rank); !ok)
      return report(ok.err());
    std::cout << "HTML report " << o.html << '\n';
  }
  if (o.measure) {
    measure_options mo;
    mo.batch_size = o.batch_size;
    mo.batches = o.measure_batches;
    mo.training.rank = o.cost.rank;
    mo.training.passes = o.cost.passes;
    rating_table first;
    if (!data->table)  // the synthetic stream's first batches, in its full id space
      first = data->first(o.batch_size * o.measure_batches);
    auto agree = measure_and_compare(data->table ? *data->table : first, *strategies, *counts, mo);
    if (!agree)
      return report(agree.err());
    if (!*agree) {
      std::cerr << "recflow: the engine's measurements disagree with the simulation\n";
      return exit_failure;
    }
  }
  if (o.json)
    print_json(to_json(costs, seconds));
  return chart_failed ? exit_failure : exit_ok;
}

}  // namespace

void add_partitions_command(CLI::App& app, int& exit_status) {
  auto opts = std::make_shared<partitions_options>();
  auto* cmd = app.add_subcommand(
    "partitions", "Simulate partitioning strategies: imbalance, fetches, bytes, keys moved");
  cmd->add_option("--data", opts->data.data,
                  "Rating file, or synthetic:N for N power-law ratings (N/20 users, N/200 items)");
  cmd->add_option("--format", opts->data.format, "detect, ml100k, ml-csv, ml-dat or delimited")
    ->capture_default_str();
  cmd->add_option("--separator", opts->data.separator, "Field separator of a delimited file");
  cmd->add_flag("--header", opts->data.header, "A delimited file starts with a header line");
  cmd->add_option("--columns", opts->data.columns, "Zero-based columns u,i,r[,t] of a delimited file");
  cmd->add_flag("--lenient", opts->data.lenient, "Skip bad lines instead of failing");
  cmd->add_option("--partitions,-p", opts->counts, "Partition counts, comma-separated")
    ->capture_default_str();
  cmd->add_option("--strategy", opts->strategy,
                  "all, or a comma-separated list of hash-user, hash-item, range, random, grid, "
                  "degree, consistent")
    ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size, "Ratings per micro-batch")->capture_default_str();
  cmd->add_option("--rank,-k", opts->cost.rank, "Factor rank of the byte model")->capture_default_str();
  cmd->add_option("--passes", opts->cost.passes, "Fetch rounds per batch")->capture_default_str();
  cmd->add_option("--seed", opts->data.seed, "Seed of synthetic:N")->capture_default_str();
  cmd->add_option("--csv", opts->csv, "Write one line per strategy and count to this file");
  cmd->add_option("--chart", opts->chart,
                  "Write an SVG bar chart to this file (gnuplot; its script beside it as .gp)");
  cmd->add_option("--html", opts->html,
                  "Write a self-contained HTML report (the same measures, drawn by dygraphs in "
                  "the browser; opens offline) to this file");
  cmd->add_flag("--measure", opts->measure,
                "Also train a few real batches per strategy on the local engine and compare what "
                "it measures with the simulation");
  cmd->add_option("--measure-batches", opts->measure_batches, "Batches to train per measurement")
    ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print a JSON summary as the last line of stdout");
  cmd->callback([opts, &exit_status] { exit_status = run_partitions(*opts); });
}

}  // namespace recflow::cli
