#include "cli/chart.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include <fmt/format.h>

namespace recflow::cli {

namespace {

/// A single-quoted shell word.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// A single-quoted gnuplot string (a quote is doubled; nothing else is special).
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'')
      out += '\'';
  }
  return out + "'";
}

/// A gnuplot text in double quotes (the terminals are noenhanced: no markup).
std::string gp_text(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string gnuplot_program() {
  if (const char* e = std::getenv("RECFLOW_GNUPLOT"); e && *e)
    return e;
  return "gnuplot";
}

bool gnuplot_available() {
  auto cmd = shell_quote(gnuplot_program()) + " --version >/dev/null 2>&1";
  int raw = std::system(cmd.c_str());
  return raw != -1 && WIFEXITED(raw) && WEXITSTATUS(raw) == 0;
}

std::string compare_script(const compare_chart& c) {
  std::string s;
  s += "# Streaming versus batch ALS, written by `recflow compare`. Render: gnuplot THIS_FILE\n"
       "# (from the folder recflow ran in: the paths below are as it was given them)\n";
  s += "set datafile separator ','\n";
  s += fmt::format("set key {} box opaque\n", c.key);
  s += "set grid ytics lc rgb '#dddddd'\n";
  s += fmt::format("set xlabel {}\n", gp_text(c.x_label));
  s += fmt::format("set ylabel {}\n", gp_text(c.y_label));
  s += "set format x '%.0s%c'\n";
  s += "set offsets 0, 0, graph 0.05, graph 0.05\n";
  s += fmt::format("set title {}\n", gp_text(c.title + "\n" + c.detail));
  s += fmt::format("batch_rmse = {:.6f}\n", c.batch_rmse);
  const auto plot = fmt::format(
    "plot {0} using 2:3 skip 1 with points pt 7 ps 0.6 lc rgb '#6baed6' title {2}, \\\n"
    "     '' using 2:4 skip 1 with lines lw 3 lc rgb '#08519c' title {1}, \\\n"
    "     '' using 2:5 skip 1 with lines lw 2 dt 2 lc rgb '#d62728' "
    "title sprintf({3}, batch_rmse)\n",
    gp_quote(c.csv), gp_text(c.trend_label), gp_text(c.points_label), gp_text(c.batch_label));
  auto render = [&](const std::string& terminal, const std::string& out) {
    return fmt::format("set terminal {} noenhanced\nset output {}\n{}unset output\n", terminal,
                       gp_quote(out), plot);
  };
  s += render("svg size 960,600 dynamic font 'Helvetica,14' background '#ffffff'", c.svg);
  if (!c.png.empty())
    s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
         + render("pngcairo size 1280,800 font 'Sans,14'", c.png) + "}\n";
  return s;
}

std::string bar_chart_script(const bar_chart& c) {
  const auto n = c.series.size();
  const double gap = 1.0;  // the clustered histogram's gap, in bar widths
  std::string s;
  s += "# Grouped bars, written by `recflow partitions`. Render: gnuplot THIS_FILE\n";
  s += fmt::format("set terminal svg size 980,{} dynamic font 'Helvetica,12' background '#ffffff' "
                   "noenhanced\n",
                   110 + 300 * c.panels.size());
  s += fmt::format("set output {}\n", gp_quote(c.svg));
  s += "set datafile missing '?'\n";
  s += fmt::format("set style data histograms\nset style histogram clustered gap {}\n", gap);
  s += "set style fill solid 1.0 noborder\n";
  s += "set grid ytics lc rgb '#dddddd'\n";
  s += "set xtics nomirror scale 0\nset ytics nomirror\nset border 3\n";
  s += "set offsets 0, 0, graph 0.12, 0\n";  // room for the labels on the bars
  s += fmt::format("set xrange [-0.5:{}.5]\n", int(c.groups.size()) - 1);
  for (std::size_t i = 0; i < n && !c.colors.empty(); ++i)
    s += fmt::format("set linetype {} lc rgb {}\n", i + 1, gp_quote(c.colors[i % c.colors.size()]));
  for (std::size_t p = 0; p < c.panels.size(); ++p) {  // each panel's data: a group per line
    s += fmt::format("$panel{} << EOD\n", p + 1);
    for (std::size_t g = 0; g < c.groups.size(); ++g) {
      s += gp_text(c.groups[g]);
      for (std::size_t i = 0; i < n; ++i) {
        double v = g < c.panels[p].values.size() && i < c.panels[p].values[g].size()
                     ? c.panels[p].values[g][i] : std::nan("");
        s += std::isfinite(v) ? fmt::format(" {:.10g}", v) : std::string(" ?");
      }
      s += '\n';
    }
    s += "EOD\n";
  }
  s += fmt::format("set multiplot layout {},1 title {} font ',14'\n", c.panels.size(),
                   gp_text(c.title + "\n" + c.subtitle));
  for (std::size_t p = 0; p < c.panels.size(); ++p) {
    const auto& pn = c.panels[p];
    if (p == 0)
      s += "set key outside top center horizontal\n";
    else
      s += "unset key\n";
    s += fmt::format("set title {}\nset ylabel {}\nset yrange [{}:*]\n", gp_text(pn.heading),
                     gp_text(pn.y_label), pn.y_min);
    std::string plot = "plot ";
    for (std::size_t i = 0; i < n; ++i)
      plot += fmt::format("$panel{} using {}{} title {}, \\\n     ", p + 1, i + 2,
                          i == 0 ? ":xtic(1)" : "", gp_text(c.series[i]));
    // The value above each bar: bar i of group j is centred at j + (i - (n-1)/2) / (n + gap).
    for (std::size_t i = 0; i < n; ++i)
      plot += fmt::format("$panel{} using ($0 + ({}.0 - {:.1f}) / {:.1f}):{}:(sprintf('%.{}f', ${})) "
                          "with labels font ',8' offset 0,0.5 notitle{}",
                          p + 1, i, (double(n) - 1) / 2, double(n) + gap, i + 2, pn.decimals,
                          i + 2, i + 1 < n ? ", \\\n     " : "\n");
    s += plot;
  }
  s += "unset multiplot\nunset output\n";
  return s;
}

result<void> write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << text) || !out.flush())
    return error{errc::io, path + ": cannot write"};
  return {};
}

result<void> run_gnuplot(const std::string& script_path) {
  if (!gnuplot_available())
    return error{errc::not_found, "gnuplot not found (" + gnuplot_program()
                                    + "); install it (Debian: apt-get install gnuplot-nox)"};
  auto cmd = shell_quote(gnuplot_program()) + " " + shell_quote(script_path);
  int raw = std::system(cmd.c_str());
  if (raw == -1 || !WIFEXITED(raw) || WEXITSTATUS(raw) != 0)
    return error{errc::io, "gnuplot failed on " + script_path};
  return {};
}

std::string render_hint(const std::string& script_path) {
  return "gnuplot " + shell_quote(script_path);
}

result<std::string> render_chart(const std::string& script_path, const std::string& script,
                                 const std::string& chart, const std::string& also) {
  if (auto w = write_text(script_path, script); !w)
    return w.err();
  std::error_code ec;
  std::filesystem::remove(chart, ec);
  if (!also.empty())
    std::filesystem::remove(also, ec);
  auto drawn = run_gnuplot(script_path);
  if (!drawn)
    return drawn.err().message;
  return std::filesystem::exists(chart) ? std::string() : std::string("gnuplot wrote no chart");
}

}  // namespace recflow::cli
