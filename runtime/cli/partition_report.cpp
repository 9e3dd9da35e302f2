#include "cli/partition_report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "cli/chart.hpp"
#include "recflow/serve/html_report.hpp"

namespace recflow::cli {

namespace {

namespace fs = std::filesystem;

std::uint64_t max_ratings(const partition_cost& c) {
  return c.per_partition.empty() ? 0 : *std::max_element(c.per_partition.begin(), c.per_partition.end());
}

result<std::ofstream> open_out(const std::string& path) {
  std::ofstream out(path);
  if (!out)
    return error{errc::io, "cannot write " + path};
  return out;
}

// Colour-blind-safe palette (Okabe-Ito), one colour per strategy.
const char* const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                               "#56B4E9", "#D55E00", "#882255", "#000000"};

struct panel {
  std::string heading, y_label;
  std::function<double(const partition_cost&)> value;
  double y_min = 0.0;
  int decimals = 0;
};

/// The four measures the chart and the HTML report draw, each with its heading and axis.
std::vector<panel> cost_panels(std::size_t batch_size, int rank) {
  return {
    {"Load imbalance: the busiest partition's ratings / the mean (1 = perfect)",
     "max / mean ratings", [](const partition_cost& c) { return c.imbalance; }, 1.0, 2},
    {"Per-batch imbalance: each micro-batch's busiest partition / the mean, averaged over batches",
     "max / mean per batch", [](const partition_cost& c) { return c.batch_imbalance; }, 1.0, 2},
    {fmt::format("Traffic per micro-batch of {} ratings (routed ratings + fetched rank-{} rows "
                 "and gradients)", batch_size, rank),
     "KB per batch", [](const partition_cost& c) { return c.bytes_per_batch / 1024.0; }, 0.0, 0},
    {"Keys (users + items) that change owner when one partition is added (n to n+1)",
     "% of keys moved", [](const partition_cost& c) { return 100.0 * c.moved_fraction(); }, 0.0, 0},
  };
}

}  // namespace

std::string format_table(const std::vector<partition_cost>& costs) {
  std::string out = fmt::format("{:<11} {:>4} {:>9} {:>9} {:>11} {:>10} {:>9} {:>10} {:>11}\n",
                                "strategy", "n", "imbalance", "batch imb", "max ratings",
                                "fetched/b", "msgs/b", "KB/b", "moved n+1");
  std::size_t last_n = 0;
  for (const auto& c : costs) {
    if (last_n != 0 && c.partitions != last_n)
      out += '\n';
    last_n = c.partitions;
    out += fmt::format("{:<11} {:>4} {:>9.3f} {:>9.3f} {:>11} {:>10.1f} {:>9.1f} {:>10.1f} {:>10.1f}%\n",
                       c.strategy, c.partitions, c.imbalance, c.batch_imbalance, max_ratings(c),
                       c.fetched_per_batch,
                       c.messages_per_batch, c.bytes_per_batch / 1024.0, 100.0 * c.moved_fraction());
  }
  return out;
}

result<void> write_csv(const std::string& path, const std::vector<partition_cost>& costs) {
  auto out = open_out(path);
  if (!out)
    return out.err();
  *out << "strategy,partitions,ratings,batches,max_ratings,imbalance,batch_imbalance,fetched_per_batch,"
          "messages_per_batch,bytes_per_batch,keys_moved,keys_total,moved_fraction\n";
  for (const auto& c : costs)
    *out << fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.3f},{:.3f},{:.1f},{},{},{:.6f}\n", c.strategy,
                        c.partitions, c.ratings, c.batches, max_ratings(c), c.imbalance,
                        c.batch_imbalance,
                        c.fetched_per_batch, c.messages_per_batch, c.bytes_per_batch, c.keys_moved,
                        c.keys_total, c.moved_fraction());
  if (!*out)
    return error{errc::io, "writing " + path + " failed"};
  return {};
}

namespace {

/// The strategies and partition counts `costs` holds, each in order of first appearance.
struct cost_axes {
  std::vector<std::string> strategies;
  std::vector<std::size_t> counts;
};

cost_axes axes_of(const std::vector<partition_cost>& costs) {
  cost_axes a;
  for (const auto& c : costs) {
    if (std::find(a.strategies.begin(), a.strategies.end(), c.strategy) == a.strategies.end())
      a.strategies.push_back(c.strategy);
    if (std::find(a.counts.begin(), a.counts.end(), c.partitions) == a.counts.end())
      a.counts.push_back(c.partitions);
  }
  return a;
}

}  // namespace

result<bool> write_chart(const std::string& path, const std::vector<partition_cost>& costs,
                         const std::string& title, std::size_t batch_size, int rank) {
  auto [strategies, counts] = axes_of(costs);
  std::vector<std::string> groups;
  for (auto n : counts)
    groups.push_back(fmt::format("{} partitions", n));
  bar_chart c{.svg = path, .title = "Partitioning strategies compared", .subtitle = title,
              .groups = std::move(groups), .series = strategies,
              .colors = std::vector<std::string>(std::begin(palette), std::end(palette)),
              .panels = {}};
  for (const auto& p : cost_panels(batch_size, rank)) {
    bar_panel bars{.heading = p.heading, .y_label = p.y_label, .y_min = p.y_min,
                   .decimals = p.decimals,
                   .values = std::vector<std::vector<double>>(
                     counts.size(), std::vector<double>(strategies.size(), std::nan("")))};
    for (const auto& cost : costs) {
      auto g = std::size_t(std::find(counts.begin(), counts.end(), cost.partitions) - counts.begin());
      auto i = std::size_t(std::find(strategies.begin(), strategies.end(), cost.strategy)
                           - strategies.begin());
      bars.values[g][i] = p.value(cost);
    }
    c.panels.push_back(std::move(bars));
  }
  auto script = fs::path(path).replace_extension(".gp").string();
  if (script == path)
    script += ".gp";
  auto why = render_chart(script, bar_chart_script(c), path);
  if (!why)
    return why.err();
  if (why->empty())
    return true;
  std::cerr << fmt::format("recflow: {}; wrote the gnuplot script {}: render it with `{}`\n", *why,
                           script, render_hint(script));
  return false;
}

result<void> write_html_report(const std::string& path, const std::vector<partition_cost>& costs,
                              const std::string& title, std::size_t batch_size, int rank) {
  auto [strategies, counts] = axes_of(costs);
  std::sort(counts.begin(), counts.end());
  serve::report_document doc{.title = "Partitioning strategies compared: " + title};
  for (const auto& p : cost_panels(batch_size, rank)) {
    serve::report_chart chart{.title = p.heading, .x_label = "partitions", .y_label = p.y_label,
                              .points = true};
    for (auto n : counts)
      chart.x.push_back(double(n));
    for (const auto& s : strategies) {
      std::vector<double> y(counts.size(), std::nan(""));
      for (const auto& c : costs)
        if (c.strategy == s)
          y[std::size_t(std::find(counts.begin(), counts.end(), c.partitions) - counts.begin())] = p.value(c);
      chart.series.push_back({.label = s, .y = std::move(y)});
    }
    doc.charts.push_back(std::move(chart));
  }
  return serve::write_report(path, doc);
}

nlohmann::json to_json(const std::vector<partition_cost>& costs, double seconds) {
  auto rows = nlohmann::json::array();
  for (const auto& c : costs)
    rows.push_back({{"strategy", c.strategy}, {"partitions", c.partitions}, {"ratings", c.ratings},
                    {"batches", c.batches}, {"max_ratings", max_ratings(c)}, {"imbalance", c.imbalance},
                    {"batch_imbalance", c.batch_imbalance},
                    {"fetched_per_batch", c.fetched_per_batch},
                    {"messages_per_batch", c.messages_per_batch},
                    {"bytes_per_batch", c.bytes_per_batch}, {"keys_moved", c.keys_moved},
                    {"moved_fraction", c.moved_fraction()}});
  return {{"command", "partitions"}, {"seconds", seconds}, {"results", rows}};
}

}  // namespace recflow::cli
