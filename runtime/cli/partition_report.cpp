#include "cli/partition_report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "recflow/serve/html_report.hpp"

namespace recflow::cli {

namespace {

std::uint64_t max_ratings(const partition_cost& c) {
  return c.per_partition.empty() ? 0 : *std::max_element(c.per_partition.begin(), c.per_partition.end());
}

result<std::ofstream> open_out(const std::string& path) {
  std::ofstream out(path);
  if (!out)
    return error{errc::io, "cannot write " + path};
  return out;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

/// A round tick step giving about `ticks` intervals over `span`.
double nice_step(double span, int ticks) {
  double raw = span / ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag)
      return m * mag;
  return 10 * mag;
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

/// The four measures both charts draw, each with its heading and axis.
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

/// Where the chart's parts go (SVG user units).
struct chart_frame {
  double width = 980, left = 80, right = 20, top = 90, panel_h = 250, gap = 70;
  double plot_w() const { return width - left - right; }
  double plot_h() const { return panel_h - 40; }
};

/// Panel `p` of the chart: its heading, grid, axis label and one group of bars per
/// partition count, a bar per strategy.
std::string draw_panel(const panel& pn, std::size_t p, const chart_frame& f,
                       const std::vector<partition_cost>& costs,
                       const std::vector<std::string>& strategies,
                       const std::vector<std::size_t>& counts) {
  const double left = f.left, plot_w = f.plot_w(), plot_h = f.plot_h();
  std::string svg;
  double y0 = f.top + p * (f.panel_h + f.gap) + 20;  // top of the plot area
  double vmax = pn.y_min;
  for (const auto& c : costs)
    vmax = std::max(vmax, pn.value(c));
  double step = nice_step(std::max(vmax - pn.y_min, 1e-9), 5);
  double ytop = pn.y_min + std::ceil((vmax - pn.y_min) / step + 1e-9) * step;
  auto ypos = [&](double v) { return y0 + plot_h * (1.0 - (v - pn.y_min) / (ytop - pn.y_min)); };
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                     left, y0 - 8, escape(pn.heading));
  for (double v = pn.y_min; v <= ytop + step * 1e-6; v += step) {
    double y = ypos(v);
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.{}f}</text>\n",
                       left, left + plot_w, y, y, left - 6, y + 4, v,
                       step < 0.1 ? 2 : (step < 1 ? 1 : 0));
  }
  svg += fmt::format("<text transform=\"translate({},{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     18, y0 + plot_h / 2, escape(pn.y_label));
  double group_w = plot_w / counts.size();
  double bar_w = group_w * 0.8 / std::max<std::size_t>(1, strategies.size());
  for (std::size_t g = 0; g < counts.size(); ++g) {
    double gx = left + g * group_w + group_w * 0.1;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{} partitions</text>\n",
                       left + (g + 0.5) * group_w, y0 + plot_h + 18, counts[g]);
    for (const auto& c : costs) {
      if (c.partitions != counts[g])
        continue;
      auto s = std::size_t(std::find(strategies.begin(), strategies.end(), c.strategy) - strategies.begin());
      double v = pn.value(c), x = gx + s * bar_w, y = ypos(v);
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
                         "<title>{} n={}: {:.{}f}</title></rect>\n",
                         x, y, bar_w - 1, std::max(0.0, ypos(pn.y_min) - y), palette[s % 8],
                         escape(c.strategy), c.partitions, v, pn.decimals);
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"9\">{:.{}f}</text>\n",
                         x + bar_w / 2, y - 3, v, pn.decimals);
    }
  }
  svg += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2:.1f}\" stroke=\"#333\"/>"
                     "<line x1=\"{0}\" x2=\"{3}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n",
                     left, y0, y0 + plot_h, left + plot_w);
  return svg;
}

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

result<void> write_chart(const std::string& path, const std::vector<partition_cost>& costs,
                         const std::string& title, std::size_t batch_size, int rank) {
  auto [strategies, counts] = axes_of(costs);
  const auto panels = cost_panels(batch_size, rank);
  const chart_frame f;
  const double height = f.top + panels.size() * (f.panel_h + f.gap);
  std::string svg = fmt::format(
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
    "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    "<text x=\"{2}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Partitioning strategies compared</text>\n"
    "<text x=\"{2}\" y=\"40\">{3}</text>\n",
    f.width, height, f.left, escape(title));
  // Legend: one swatch per strategy.
  for (std::size_t s = 0; s < strategies.size(); ++s) {
    double x = f.left + s * 120.0;
    svg += fmt::format("<rect x=\"{}\" y=\"52\" width=\"14\" height=\"14\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"64\">{}</text>\n",
                       x, palette[s % 8], x + 19, escape(strategies[s]));
  }
  for (std::size_t p = 0; p < panels.size(); ++p)
    svg += draw_panel(panels[p], p, f, costs, strategies, counts);
  svg += "</svg>\n";
  auto out = open_out(path);
  if (!out)
    return out.err();
  *out << svg;
  if (!*out)
    return error{errc::io, "writing " + path + " failed"};
  return {};
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
