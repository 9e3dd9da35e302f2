// `recflow compare`: the per-batch CSV, the --json line and the chart (when gnuplot exists).
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.hpp"
#include "tests/skip_test_util.hpp"
#include "tests/support/planted_event_file.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;

using recflow::test::run_cli;
using recflow::test::scratch_dir;
using recflow::test::skip_without;

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ','))
      cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

const std::string compare_args = "compare --data " + recflow::test::data_dir()
                                 + "/ml-100k/u.data --split 0.8 --seed 3 --batch-size 8000"
                                   " --smooth 3 --json";

}  // namespace

TEST_CASE("cli: compare writes the per-batch CSV with a centered trend and a JSON summary", "[cli]") {
  scratch_dir dir;
  auto csv = dir.file("cmp.csv");
  auto svg = dir.file("cmp.svg");
  auto r = run_cli(compare_args + " --csv " + csv + " --chart " + svg);
  INFO(r.out);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["command"] == "compare");
  CHECK(j["batches"] == 10);  // 80000 training ratings in batches of 8000
  CHECK(j["train_ratings"] == 80000);
  CHECK(j["per_batch_csv"] == csv);
  CHECK(j["data"] == "ml-100k");
  CHECK(j["batch_rmse"].get<double>() < 0.95);
  CHECK(j["stream_rmse"].get<double>() < 1.0);
  CHECK(j["seconds"].get<double>() > 0.0);
  for (auto side : {"stream_ranking", "batch_ranking"})
    for (auto key : {"precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"}) {
      CAPTURE(side, key);
      CHECK(j[side][key].get<double>() >= 0.0);
      CHECK(j[side][key].get<double>() <= 1.0);
    }

  auto rows = read_csv(csv);
  REQUIRE(rows.size() == 11);
  CHECK(rows[0] == std::vector<std::string>{"batch", "ratings_seen", "stream_rmse",
                                            "stream_rmse_trend", "batch_als_rmse"});
  std::vector<double> rmse;
  for (std::size_t b = 1; b < rows.size(); ++b) {
    REQUIRE(rows[b].size() == 5);
    CHECK(std::stoi(rows[b][0]) == static_cast<int>(b));
    CHECK(std::stoi(rows[b][1]) == static_cast<int>(8000 * b));
    CHECK(std::stod(rows[b][4]) == Approx(j["batch_rmse"].get<double>()).margin(1e-6));
    rmse.push_back(std::stod(rows[b][2]));
  }
  CHECK(rmse.back() == Approx(j["stream_rmse"].get<double>()).margin(1e-6));
  // --smooth 3: the trend is the mean of a batch and its two neighbours; the first and
  // last batch, lacking one neighbour, are their own trend.
  CHECK(std::stod(rows[1][3]) == Approx(rmse[0]).margin(2e-6));
  CHECK(std::stod(rows[5][3]) == Approx((rmse[3] + rmse[4] + rmse[5]) / 3).margin(2e-6));
  CHECK(std::stod(rows[10][3]) == Approx(rmse[9]).margin(2e-6));

  CHECK(fs::exists(dir.file("cmp.gp")));
  if (!have_gnuplot()) {
    CHECK(r.status == 1);  // --chart was asked for and could not be drawn
    skip_without("gnuplot");  // the chart itself is not checked
    return;
  }
  CHECK(r.status == 0);
  CHECK(j["chart"] == svg);
  REQUIRE(fs::exists(svg));
  std::ifstream in(svg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("<svg") != std::string::npos);
  CHECK(text.find("ml-100k") != std::string::npos);
  CHECK(text.find("validation RMSE") != std::string::npos);
}

TEST_CASE("cli: compare without gnuplot keeps the CSV and script, failing only if --chart was asked", "[cli]") {
  scratch_dir dir;
  auto csv = dir.file("cmp.csv");
  const std::string no_gnuplot = "RECFLOW_GNUPLOT=/nonexistent/gnuplot";
  // Default chart path: written into the scratch folder via --chart's default would land
  // in the working directory, so run from there.
  auto quiet = run_cli(compare_args + " --csv " + csv, "cd " + dir.path.string() + " && " + no_gnuplot);
  INFO(quiet.out);
  CHECK(quiet.status == 0);
  CHECK(quiet.out.find("gnuplot") != std::string::npos);  // says how to render
  CHECK(nlohmann::json::parse(quiet.last_line)["chart"].is_null());
  CHECK(fs::exists(dir.file("recflow-compare.gp")));

  auto asked = run_cli(compare_args + " --csv " + csv + " --chart " + dir.file("c.svg"), no_gnuplot);
  INFO(asked.out);
  CHECK(asked.status == 1);
  CHECK(fs::exists(csv));
  CHECK(fs::exists(dir.file("c.gp")));
  CHECK_FALSE(fs::exists(dir.file("c.svg")));
}

TEST_CASE("cli: compare reports progress off a terminal as plain lines every interval", "[cli]") {
  scratch_dir dir;
  auto csv = dir.file("cmp.csv");
  // Interval 0: a line after every iteration and batch, with rate and ETA.
  auto every = run_cli(compare_args + " --csv " + csv + " --no-chart", "RECFLOW_PROGRESS_INTERVAL=0");
  INFO(every.out);
  REQUIRE(every.status == 0);
  CHECK(every.out.find("batch ALS: 1/15 iterations (6%)") != std::string::npos);
  CHECK(every.out.find("streaming: 1/10 batches (10%)") != std::string::npos);
  CHECK(every.out.find("ETA") != std::string::npos);
  CHECK(every.out.find("streaming: 10/10 batches done in") != std::string::npos);
  CHECK(every.out.find('\r') == std::string::npos);  // no redrawing off a terminal

  // An interval longer than the run: only the final lines.
  auto quiet = run_cli(compare_args + " --csv " + csv + " --no-chart", "RECFLOW_PROGRESS_INTERVAL=1000");
  INFO(quiet.out);
  CHECK(quiet.out.find("ETA") == std::string::npos);
  CHECK(quiet.out.find("batch ALS: 15/15 iterations done in") != std::string::npos);
  CHECK(nlohmann::json::parse(quiet.last_line)["chart"].is_null());
}

TEST_CASE("cli: batch and stream report progress on stderr, and stay silent with --quiet", "[cli]") {
  const std::string env = "RECFLOW_PROGRESS_INTERVAL=0";
  const std::string data = " --data " + recflow::test::data_dir() + "/ml-100k/u.data --json";
  auto batch = run_cli("batch --iterations 2" + data, env);
  INFO(batch.out);
  CHECK(batch.status == 0);
  CHECK(batch.out.find("batch ALS: 1/2 iterations (50%)") != std::string::npos);
  CHECK(batch.out.find("batch ALS: 2/2 iterations done in") != std::string::npos);
  CHECK(nlohmann::json::parse(batch.last_line)["command"] == "batch");

  // Per-batch lines go to a pipe here, so the progress shows on stderr.
  auto stream = run_cli("stream --batch-size 20000 --no-csv" + data, env);
  INFO(stream.out);
  CHECK(stream.status == 0);
  CHECK(stream.out.find("streaming: 2/4 batches (50%)") != std::string::npos);
  CHECK(stream.out.find("streaming: 4/4 batches done in") != std::string::npos);
  CHECK(nlohmann::json::parse(stream.last_line)["batches"] == 4);

  auto quiet = run_cli("stream --batch-size 20000 --no-csv --quiet" + data, env);
  CHECK(quiet.out.find("streaming:") == std::string::npos);
}

TEST_CASE("cli: compare --implicit draws HR@10 per batch of the stream against batch implicit ALS",
          "[cli][implicit]") {
  scratch_dir dir;
  auto data = recflow::test::write_planted_events(dir.path);
  auto csv = dir.file("imp.csv");
  auto svg = dir.file("imp.svg");
  auto r = run_cli("compare --implicit --data " + data + " --batch-size 50 --negatives 20 "
                   "--alpha 5 --smooth 3 --csv " + csv + " --chart " + svg + " --json");
  INFO(r.out);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["command"] == "compare");
  CHECK(j["feedback"] == "implicit");
  CHECK(j["held_out"] == 36);
  CHECK(j["batches"] == 4);  // 195 training events in batches of 50
  CHECK(j["batch_hr_at_10"].get<double>() > j["popularity_hr_at_10"].get<double>());
  CHECK(j["stream_hr_at_10"].get<double>() >= 0.9);
  auto rows = read_csv(csv);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == std::vector<std::string>{"batch", "events_seen", "stream_hr_at_k",
                                            "stream_hr_at_k_trend", "batch_hr_at_k"});
  CHECK(std::stod(rows[4][2]) == Approx(j["stream_hr_at_10"].get<double>()).margin(1e-6));
  CHECK(std::stod(rows[4][4]) == Approx(j["batch_hr_at_10"].get<double>()).margin(1e-6));
  CHECK(fs::exists(dir.file("imp.gp")));
  CHECK(fs::exists(dir.file("imp.html")));
  if (!have_gnuplot()) {
    CHECK(r.status == 1);
    skip_without("gnuplot");
    return;
  }
  CHECK(r.status == 0);
  std::ifstream in(svg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("HR@10 of the held-out events") != std::string::npos);
}
