#include "recflow/serve/html_report.hpp"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "recflow/serve/dashboard_assets.hpp"

namespace recflow::serve {

using json = nlohmann::json;

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view asset(std::string_view path) {
  for (const auto& a : dashboard_assets())
    if (a.path == path)
      return a.body;
  return {};
}

/// JSON for a <script> element: "</" and "<!--" cannot appear in it.
std::string script_json(const json& j) {
  auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<')
      out += "\\u003c";
    else
      out += text[i];
  }
  return out;
}

constexpr const char* report_style = R"(
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 20px; } p { font-size: 13px; color: #445; }
figure { margin: 12px 0; background: #fff; border-radius: 6px; padding: 8px 12px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figcaption { font-size: 14px; margin-bottom: 6px; } .chart { width: 100%; height: 320px; }
)";

constexpr const char* report_script = R"(
(function () {
  var doc = JSON.parse(document.getElementById('report-data').textContent);
  doc.charts.forEach(function (c, k) {
    var rows = c.x.map(function (x, i) {
      return [x].concat(c.series.map(function (s) { return s.y[i]; }));
    });
    var series = {};
    c.series.forEach(function (s) { if (s.dashed) series[s.label] = { strokePattern: [6, 3] }; });
    var el = document.getElementById('chart-' + k);
    var g = new Dygraph(el, rows, {
      labels: [c.x_label].concat(c.series.map(function (s) { return s.label; })),
      xlabel: c.x_label, ylabel: c.y_label, legend: 'always', connectSeparatedPoints: true,
      drawPoints: c.points, pointSize: 3, strokeWidth: 1.5, series: series,
      colors: ['#c0392b', '#2c7fb8', '#27ae60', '#8e44ad', '#d35400', '#16a085', '#555', '#000']
    });
    el.dataset.rows = String(g.numRows());
  });
  document.body.dataset.charts = String(doc.charts.length);
})();
)";

}  // namespace

result<std::string> render_report(const report_document& doc) {
  json charts = json::array();
  for (const auto& c : doc.charts) {
    json series = json::array();
    for (const auto& s : c.series) {
      if (s.y.size() != c.x.size())
        return error{errc::invalid_argument, "report series '" + s.label + "' has "
                                               + std::to_string(s.y.size()) + " values for "
                                               + std::to_string(c.x.size()) + " x values"};
      json ys = json::array();
      for (double v : s.y)
        ys.push_back(std::isfinite(v) ? json(v) : json(nullptr));
      series.push_back(json{{"label", s.label}, {"y", ys}, {"dashed", s.dashed}});
    }
    json xs = json::array();
    for (double v : c.x)
      xs.push_back(std::isfinite(v) ? json(v) : json(0));
    charts.push_back(json{{"x_label", c.x_label}, {"y_label", c.y_label}, {"x", xs},
                          {"series", series}, {"points", c.points}});
  }
  std::string page = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
                     + html_escape(doc.title) + "</title>\n<style>\n" + std::string(asset("/dygraph.min.css"))
                     + report_style + "</style>\n<script>\n" + std::string(asset("/dygraph.min.js"))
                     + "\n</script>\n</head>\n<body>\n<main>\n<h1>" + html_escape(doc.title) + "</h1>\n";
  for (const auto& n : doc.notes)
    page += "<p>" + html_escape(n) + "</p>\n";
  for (std::size_t k = 0; k < doc.charts.size(); ++k)
    page += "<figure><figcaption>" + html_escape(doc.charts[k].title) + "</figcaption><div id=\"chart-"
            + std::to_string(k) + "\" class=\"chart\"></div></figure>\n";
  page += "</main>\n<script type=\"application/json\" id=\"report-data\">"
          + script_json(json{{"charts", charts}}) + "</script>\n<script>" + report_script
          + "</script>\n</body>\n</html>\n";
  return page;
}

result<void> write_report(const std::string& path, const report_document& doc) {
  auto page = render_report(doc);
  if (!page)
    return page.err();
  std::ofstream out(path, std::ios::binary);
  out << *page;
  out.close();
  if (!out)
    return error{errc::io, "cannot write " + path};
  return {};
}

}  // namespace recflow::serve
