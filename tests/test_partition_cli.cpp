// `recflow partitions`: the command's outputs (table, CSV, SVG chart drawn by gnuplot,
// --json) and errors. Without gnuplot the chart cases are skipped (tests/skip_test_util.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "tests/cli_test_util.hpp"
#include "tests/skip_test_util.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;

/// Runs `recflow ARGS`; returns the exit status and appends stdout + stderr to `out`.
int run_cli(const std::string& args, std::string& out) {
  auto r = recflow::test::run_cli(args);
  out += r.out;
  return r.status;
}

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

std::string slurp(const fs::path& f) {
  std::ifstream in(f);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("partitions command: writes a table, a CSV, an SVG chart and a JSON line",
          "[partition][cli]") {
  auto dir = fs::temp_directory_path() / ("recflow-partitions-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto csv = dir / "p.csv", svg = dir / "p.svg";
  std::string out;
  int rc = run_cli("partitions --data " + recflow::test::data_dir() + "/ml-100k/u.data -p 2,4 "
                   "--csv " + csv.string() + " --chart " + svg.string() + " --json", out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("degree") != std::string::npos);
  auto last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  auto j = nlohmann::json::parse(last);
  REQUIRE(j["results"].size() == 14);  // 7 strategies x 2 counts
  for (const auto& r : j["results"]) {
    CHECK(r["ratings"] == 100'000);
    CHECK(r["imbalance"].get<double>() >= 1.0);
  }
  auto lines = slurp(csv);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 15);
  // The chart is gnuplot's, from the script written beside it.
  auto script = slurp(dir / "p.gp");
  CHECK(script.find("set multiplot layout 4,1") != std::string::npos);
  CHECK(script.find("histogram clustered") != std::string::npos);
  if (!have_gnuplot()) {
    CHECK(rc == 1);  // --chart was asked for and could not be drawn
    CHECK_FALSE(fs::exists(svg));
    fs::remove_all(dir);
    recflow::test::skip_without("gnuplot");
    return;
  }
  REQUIRE(rc == 0);
  auto chart = slurp(svg);
  CHECK(chart.find("<svg") != std::string::npos);
  CHECK(chart.find("</svg>") != std::string::npos);
  CHECK(chart.find("consistent") != std::string::npos);  // the legend
  CHECK(chart.find("4 partitions") != std::string::npos);  // a group under its bars
  CHECK(chart.find("KB per batch") != std::string::npos);  // a panel's axis
  // Every bar carries its value: the imbalance of each strategy at each count.
  for (const auto& r : j["results"]) {
    auto label = fmt::format(">{:.2f}<", r["imbalance"].get<double>());
    INFO(r["strategy"] << " n=" << r["partitions"] << ": " << label);
    CHECK(chart.find(label) != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("partitions command: without gnuplot keeps the table, CSV, HTML and script, and fails",
          "[partition][cli]") {
  recflow::test::scratch_dir dir;
  auto args = "partitions --data synthetic:20000 -p 2,4 --strategy hash-user,range --csv "
              + dir.file("p.csv") + " --chart " + dir.file("p.svg") + " --html "
              + dir.file("p.html") + " --json";
  auto r = recflow::test::run_cli(args, "RECFLOW_GNUPLOT=/nonexistent/gnuplot");
  INFO(r.out);
  CHECK(r.status == 1);  // as `recflow compare --chart`: asked for, not drawn
  CHECK(r.out.find("gnuplot not found") != std::string::npos);
  CHECK(r.out.find("gnuplot '" + dir.file("p.gp") + "'") != std::string::npos);  // how to render
  CHECK(fs::exists(dir.file("p.gp")));
  CHECK(fs::exists(dir.file("p.csv")));
  CHECK(fs::exists(dir.file("p.html")));
  CHECK_FALSE(fs::exists(dir.file("p.svg")));
  CHECK(nlohmann::json::parse(r.last_line)["results"].size() == 4);
  CHECK(r.out.find("hash-user") != std::string::npos);  // the table
}

TEST_CASE("partitions command: synthetic data and bad options", "[partition][cli]") {
  std::string out;
  CHECK(run_cli("partitions --data synthetic:20000 -p 3 --strategy degree,grid", out) == 0);
  CHECK(out.find("power-law synthetic: 20000 ratings") != std::string::npos);
  CHECK(run_cli("partitions --data synthetic:0", out) == 2);
  CHECK(run_cli("partitions --data synthetic:100 --strategy nope", out) == 2);
  CHECK(run_cli("partitions --data synthetic:100 -p 0", out) == 2);
  CHECK(run_cli("partitions --data /no/such/file", out) == 1);
}

TEST_CASE("partitions command: --measure trains real batches and agrees with the simulation",
          "[partition][cli]") {
  std::string out;
  int rc = run_cli("partitions --data synthetic:20000 -p 2,3 --measure --measure-batches 3", out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("measured on the local engine: 3 batches of 1000 ratings") != std::string::npos);
  CHECK(out.find(" NO") == std::string::npos);
  std::size_t agreeing = 0;
  for (auto at = out.find(" yes\n"); at != std::string::npos; at = out.find(" yes\n", at + 1))
    ++agreeing;
  CHECK(agreeing == 10);  // hash-user, range, random, degree, consistent at 2 and 3
}
