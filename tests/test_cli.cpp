// The command-line contract: scripts depend on these flags, exit codes and the --json line.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;

using recflow::test::run_cli;
using recflow::test::scratch_dir;

std::string ml100k(const std::string& f) { return recflow::test::data_dir() + "/ml-100k/" + f; }

}  // namespace

TEST_CASE("cli: every subcommand has --help", "[cli]") {
  auto sub = GENERATE(as<std::string>{}, "", "batch", "stream", "predict", "recommend");
  auto r = run_cli(sub + " --help");
  CHECK(r.status == 0);
  CHECK(r.out.find("Usage") != std::string::npos);
}

TEST_CASE("cli: batch --json ends stdout with the summary, then predict and recommend use the saved model", "[cli]") {
  scratch_dir dir;
  auto model = dir.file("als.model");
  auto r = run_cli("batch --train " + ml100k("u1.base") + " --test " + ml100k("u1.test")
                   + " --iterations 3 --save " + model + " --json --quiet");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  for (auto key : {"rmse", "mae", "train_ratings", "test_ratings", "seconds"})
    CHECK(j.contains(key));
  CHECK(j["train_ratings"] == 80000);
  CHECK(j["test_ratings"] == 20000);
  CHECK(j["rmse"].get<double>() < 1.0);

  auto p = run_cli("predict --model " + model + " --user 1 --item 50 --json");
  INFO(p.out);
  REQUIRE(p.status == 0);
  auto pj = nlohmann::json::parse(p.last_line);
  CHECK(pj["prediction"].get<double>() >= 1.0);
  CHECK(pj["prediction"].get<double>() <= 5.0);
  CHECK(pj["known"] == true);

  auto rec = run_cli("recommend --model " + model + " --user 1 -n 7 --json");
  INFO(rec.out);
  REQUIRE(rec.status == 0);
  auto rj = nlohmann::json::parse(rec.last_line);
  REQUIRE(rj["items"].size() == 7);
  // User 1 rated item 1 in u1.base: it must never be recommended back.
  for (const auto& it : rj["items"])
    CHECK(it["item"] != 1);

  auto unknown = run_cli("recommend --model " + model + " --user 999999 -n 3 --json");
  REQUIRE(unknown.status == 0);
  CHECK(nlohmann::json::parse(unknown.last_line)["known_user"] == false);
}

TEST_CASE("cli: stream --json reports batches and the per-batch CSV it wrote", "[cli]") {
  scratch_dir dir;
  auto csv = dir.file("batches.csv");
  auto r = run_cli("stream --data " + ml100k("u.data") + " --split 0.8 --seed 3 --batch-size 5000"
                   " --csv " + csv + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["batches"] == 16);
  CHECK(j["train_ratings"] == 80000);
  CHECK(j["test_ratings"] == 20000);
  CHECK(j["per_batch_csv"] == csv);
  std::ifstream in(csv);
  std::string line;
  int lines = 0;
  while (std::getline(in, line))
    ++lines;
  CHECK(lines == 17);  // header + one line per batch
}

TEST_CASE("cli: stream --eval-every evaluates every n-th batch, and the CSV leaves the others' errors empty", "[cli]") {
  scratch_dir dir;
  auto csv = dir.file("batches.csv");
  auto r = run_cli("stream --data " + ml100k("u.data") + " --split 0.8 --seed 3 --batch-size 5000"
                   " --eval-every 4 --csv " + csv + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["batches"] == 16);
  CHECK(j["eval_every"] == 4);
  CHECK(j["stream_seconds"].get<double>() > 0.0);
  CHECK(j["update_rate"].get<double>() > 0.0);
  CHECK(r.out.find("batch     3  ratings     15000  rmse -") != std::string::npos);
  auto at4 = r.out.find("batch     4  ratings     20000  rmse ");
  REQUIRE(at4 != std::string::npos);
  CHECK(std::isdigit(static_cast<unsigned char>(r.out[at4 + 37])));
  std::ifstream in(csv);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(in, line))
    rows.push_back(line);
  REQUIRE(rows.size() == 17);
  CHECK(rows[3].rfind("3,15000,,,", 0) == 0);  // not evaluated: empty rmse and mae
  CHECK(rows[4].rfind("4,20000,", 0) == 0);
  CHECK(std::isdigit(static_cast<unsigned char>(rows[4][8])));
  auto zero = run_cli("stream --data " + ml100k("u.data") + " --eval-every 0 --no-csv");
  CHECK(zero.status == 2);
  CHECK(zero.out.find("evaluation interval must be positive, got 0") != std::string::npos);
}

TEST_CASE("cli: bad input fails with file:line and a non-zero exit, or is counted with --lenient", "[cli]") {
  scratch_dir dir;
  auto bad = dir.file("bad.tsv");
  {
    std::ofstream f(bad);
    f << "1\t1\t4\t100\n2\t1\t3\t100\n3\t2\tNaN\t100\n4\t2\t5\t100\n5\t3\t2\t100\n";
  }
  auto r = run_cli("stream --data " + bad + " --split 0.6 --batch-size 2 --no-csv");
  CHECK(r.status != 0);
  CHECK(r.out.find(bad + ":3:") != std::string::npos);

  auto l = run_cli("stream --data " + bad + " --split 0.6 --batch-size 2 --no-csv --lenient --json");
  INFO(l.out);
  CHECK(l.status == 0);
  CHECK(l.out.find("skipped 1 bad line") != std::string::npos);
}

TEST_CASE("cli: usage errors and missing files exit non-zero with a message", "[cli]") {
  CHECK(run_cli("stream --rank 0 --data " + ml100k("u.data")).status != 0);
  auto missing = run_cli("predict --model /nonexistent/model --user 1 --item 1");
  CHECK(missing.status != 0);
  CHECK(missing.out.find("/nonexistent/model") != std::string::npos);
  CHECK(run_cli("batch --train " + ml100k("u1.base")).status != 0);  // --test missing
  CHECK(run_cli("nosuchcommand").status != 0);
}

TEST_CASE("cli: stream on the actor graph and on the reference loop give the same model", "[cli]") {
  scratch_dir dir;
  auto base = "stream --data " + ml100k("u.data") + " --split 0.8 --seed 5 --batch-size 2000"
              " --max-batches 10 --no-csv --json --quiet";
  auto local = run_cli(base + " --engine local --partitions 3 --workers 2 --save " + dir.file("l.rfm"));
  auto ref = run_cli(base + " --engine reference --save " + dir.file("r.rfm"));
  INFO(local.out << ref.out);
  REQUIRE(local.status == 0);
  REQUIRE(ref.status == 0);
  auto lj = nlohmann::json::parse(local.last_line);
  auto rj = nlohmann::json::parse(ref.last_line);
  CHECK(lj["engine"] == "local");
  CHECK(rj["engine"] == "reference");
  CHECK(lj["batches"] == 10);
  CHECK(lj["rmse"].get<double>() == Approx(rj["rmse"].get<double>()).epsilon(1e-9));
  // The same predictions from both saved models.
  for (auto [u, i] : {std::pair{1, 50}, std::pair{13, 100}, std::pair{405, 1}}) {
    auto q = " --user " + std::to_string(u) + " --item " + std::to_string(i) + " --json";
    auto pl = nlohmann::json::parse(run_cli("predict --model " + dir.file("l.rfm") + q).last_line);
    auto pr = nlohmann::json::parse(run_cli("predict --model " + dir.file("r.rfm") + q).last_line);
    CHECK(pl["prediction"].get<double>() == Approx(pr["prediction"].get<double>()).epsilon(1e-9));
  }
  // A seed model runs on the graph too, and continues exactly as the reference does.
  auto seeded = run_cli(base + " --init-model " + dir.file("r.rfm"));
  auto seeded_ref = run_cli(base + " --engine reference --init-model " + dir.file("r.rfm"));
  INFO(seeded.out << seeded_ref.out);
  REQUIRE(seeded.status == 0);
  REQUIRE(seeded_ref.status == 0);
  auto sj = nlohmann::json::parse(seeded.last_line);
  auto srj = nlohmann::json::parse(seeded_ref.last_line);
  CHECK(sj["engine"] == "local");
  CHECK(sj["rmse"].get<double>() == Approx(srj["rmse"].get<double>()).epsilon(1e-9));
  CHECK(sj["rmse"].get<double>() != Approx(lj["rmse"].get<double>()).epsilon(1e-6));
  // A seed of another rank is refused, naming both ranks.
  auto other = run_cli(base + " --init-model " + dir.file("r.rfm") + " --rank 7");
  CHECK(other.status != 0);
  CHECK(other.out.find("rank") != std::string::npos);
}

TEST_CASE("cli: batch ALS on the actor blocks and on one thread give the same model", "[cli]") {
  auto base = "batch --train " + ml100k("u1.base") + " --test " + ml100k("u1.test")
              + " --iterations 3 --rank 8 --json --quiet";
  auto local = run_cli(base + " --engine local --partitions 3");
  auto ref = run_cli(base + " --engine reference");
  INFO(local.out << ref.out);
  REQUIRE(local.status == 0);
  REQUIRE(ref.status == 0);
  auto lj = nlohmann::json::parse(local.last_line);
  auto rj = nlohmann::json::parse(ref.last_line);
  CHECK(lj["engine"] == "local");
  CHECK(lj["rmse"].get<double>() == Approx(rj["rmse"].get<double>()).epsilon(1e-9));
  CHECK(run_cli(base + " --engine nosuch").status == 2);
}
