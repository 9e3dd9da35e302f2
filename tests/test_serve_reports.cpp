// The static HTML reports of `recflow compare` and `recflow partitions`: the page itself
// (escaping, no outside reference), then the commands' reports opened in headless Chromium.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/serve/html_report.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/skip_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace recflow::serve;

namespace {

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

/// Headless Chromium's DOM of a local file once its scripts ran ("" on failure).
std::string chromium_dom(const test::scratch_dir& dir, const std::string& file) {
  auto cmd = "timeout 120 chromium --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="
             + dir.file("profile") + " --virtual-time-budget=5000 --dump-dom file://" + file + " 2>"
             + dir.file("chromium.log");
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  return pclose(p) == 0 ? out : std::string();
}

/// Every data-rows="N" of the DOM, in order.
std::vector<int> chart_rows(const std::string& dom) {
  std::vector<int> rows;
  static const std::regex re("data-rows=\"([0-9]+)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), re); it != std::sregex_iterator(); ++it)
    rows.push_back(std::stoi((*it)[1]));
  return rows;
}

}  // namespace

TEST_CASE("serve reports: the page inlines its library and data, escapes text, and refers to nothing outside", "[serve][report]") {
  report_document doc{.title = "a <b> & \"c\"", .notes = {"</p><script>alert(1)</script>"}};
  doc.charts.push_back({.title = "RMSE", .x_label = "batch", .y_label = "rmse", .x = {1, 2, 3},
                        .series = {{.label = "</script><script>alert(2)</script>",
                                    .y = {1.0, std::nan(""), 0.9}}}});
  auto page = render_report(doc);
  REQUIRE(page);
  CHECK(page->find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>") != std::string::npos);
  CHECK(page->find("alert(1)</script>") == std::string::npos);
  CHECK(page->find("</script><script>alert(2)") == std::string::npos);
  CHECK(page->find("\\u003c/script>\\u003cscript>alert(2)") != std::string::npos);
  CHECK(page->find("[1.0,null,0.9]") != std::string::npos);  // a NaN is a gap
  CHECK(page->find("Dygraph") != std::string::npos);
  // Everything is inline: no element loads or links anything.
  static const std::regex ref(R"re(<(script|link|img|iframe|a|object|embed)\s[^>]*(src|href|data)\s*=)re",
                              std::regex::icase);
  CHECK_FALSE(std::regex_search(*page, ref));

  doc.charts[0].series[0].y.pop_back();
  auto bad = render_report(doc);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("has 2 values for 3 x values") != std::string::npos);
  CHECK_FALSE(write_report("/nonexistent-dir/x.html", report_document{.title = "x"}));
}

TEST_CASE("serve reports: compare and partitions write HTML reports whose charts hold every point", "[serve][report][cli]") {
  test::scratch_dir dir;
  auto data = test::data_dir() + "/ml-100k/u.data";
  auto html = dir.file("cmp.html");
  auto r = test::run_cli("compare --data " + data + " --split 0.8 --batch-size 8000 "
                         "--csv " + dir.file("cmp.csv") + " --no-chart --html " + html + " --json -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["html_report"] == html);
  auto page = test::file_text(html);
  CHECK(page.find("streaming vs batch ALS") != std::string::npos);

  auto phtml = dir.file("p.html");
  auto p = test::run_cli("partitions --data " + data + " -p 2,4,8 --html " + phtml);
  INFO(p.out);
  REQUIRE(p.status == 0);
  CHECK(test::file_text(phtml).find("consistent") != std::string::npos);

  if (!have_chromium()) {
    test::skip_without("chromium");
    return;
  }
  auto dom = chromium_dom(dir, html);
  INFO(dom.substr(0, 1000));
  CHECK(chart_rows(dom) == std::vector<int>{10});  // 80,000 ratings in batches of 8,000
  dom = chromium_dom(dir, phtml);
  CHECK(chart_rows(dom) == std::vector<int>{3, 3, 3, 3});  // four measures over 3 counts
}
