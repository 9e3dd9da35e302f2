// `recflow partitions`: the command's outputs (table, CSV, SVG chart, --json) and errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;

/// Runs `recflow ARGS`; returns the exit status and appends stdout + stderr to `out`.
int run_cli(const std::string& args, std::string& out) {
  auto r = recflow::test::run_cli(args);
  out += r.out;
  return r.status;
}

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
  auto chart = slurp(svg);
  CHECK(chart.rfind("<svg", 0) == 0);
  CHECK(chart.find("consistent") != std::string::npos);
  CHECK(chart.find("</svg>") != std::string::npos);
  fs::remove_all(dir);
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
