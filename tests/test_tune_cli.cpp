// `recflow tune`: the config round trip into batch and stream, usage errors, and the
// accuracy check on MovieLens 100K u1 (search on u1.base only, u1.test for the report).
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.hpp"
#include "test_util.hpp"

namespace {

using recflow::test::file_text;
using recflow::test::run_cli;
using recflow::test::scratch_dir;

std::string u1() {
  auto d = recflow::test::data_dir() + "/ml-100k";
  return " --train " + d + "/u1.base --test " + d + "/u1.test";
}

}  // namespace

TEST_CASE("cli: tune --mode batch writes a config that recflow batch reproduces", "[cli][tune]") {
  scratch_dir dir;
  auto out = dir.file("best.toml");
  // The shipped config file's [tune] section is read too; the command line wins.
  auto r = run_cli("--config " + std::string(RECFLOW_SOURCE_DIR) + "/config/recflow.toml tune"
                   + u1() + " --iterations 3 --param rank=4,8 --param lambda-exponent=0.5"
                            " --trials 6 --out " + out + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("valid rmse") && Catch::Contains("(defaults)"));
  CHECK_THAT(r.out, Catch::Contains("pruning saved"));
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["command"] == "tune");
  CHECK(j["best"]["iterations"] == 3);
  CHECK(j["validation_rmse"].get<double>() <= j["default_validation_rmse"].get<double>());
  auto toml = file_text(out);
  CHECK_THAT(toml, Catch::Contains("[batch]") && Catch::Contains("iterations = 3"));

  auto b = run_cli("batch --config " + out + u1() + " --json -q");
  INFO(b.out);
  REQUIRE(b.status == 0);
  auto bj = nlohmann::json::parse(b.last_line);
  CHECK(bj["rank"] == j["best"]["rank"]);
  CHECK(bj["lambda"].get<double>() == j["best"]["lambda"].get<double>());
  CHECK(bj["rmse"].get<double>() == Approx(j["rmse"].get<double>()).epsilon(1e-9));
}

TEST_CASE("cli: tune --mode stream writes a config that recflow stream reproduces", "[cli][tune]") {
  scratch_dir dir;
  auto out = dir.file("stream.toml");
  auto r = run_cli("tune --mode stream" + u1()
                   + " --window 20000 --param rank=5,10 --param passes=2,4 --trials 8 --out "
                   + out + " --json -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["mode"] == "stream");
  CHECK(j["validation_rmse"].get<double>() <= j["default_validation_rmse"].get<double>());
  CHECK_THAT(file_text(out), Catch::Contains("[stream]") && Catch::Contains("batch-size = "));

  auto s = run_cli("stream --config " + out + u1() + " --no-csv --json -q");
  INFO(s.out);
  REQUIRE(s.status == 0);
  auto sj = nlohmann::json::parse(s.last_line);
  CHECK(sj["rank"] == j["best"]["rank"]);
  CHECK(sj["batch_size"] == j["best"]["batch-size"]);
  CHECK(sj["passes"] == j["best"]["passes"]);
  CHECK(sj["rmse"].get<double>() == Approx(j["rmse"].get<double>()).epsilon(1e-9));
}

TEST_CASE("cli: tune rejects bad usage with exit 2 and a message", "[cli][tune]") {
  auto [args, says] = GENERATE(table<std::string, std::string>({
    {"--mode foo", "--mode must be batch or stream"},
    {"--search bayes", "--search must be grid, random or hyperband"},
    {"--param gama=0.1", "unknown parameter 'gama'"},
    {"--param lambda=2..1", "LO < HI"},
    {"--mode stream --folds 3", "--folds is for --mode batch"},
    {"--folds 1", "--folds must be at least 2"},
    {"--folds -3", "--folds must be at least 2"},
    {"--eta 1", "eta must be at least 2"},
    {"--validation 1.5", "validation fraction"},
    {"--workers 0", "workers must be positive"},
    {"--sample sobol", "--sample must be random or grid"},
    {"--prune often", "--prune must be none or halving"},
    {"--eta 50 --brackets 8", "at most 100000"},
    {"--iterations 0", "iterations must be positive"},
  }));
  auto r = run_cli("tune" + u1() + " " + args);
  INFO(args << "\n" << r.out);
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains(says));
}

TEST_CASE("cli: tune names a missing file and exits 1", "[cli][tune]") {
  auto r = run_cli("tune --train /nonexistent/u1.base --test /nonexistent/u1.test");
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("/nonexistent/u1.base"));
  // An --out that cannot be written fails before the search, naming the file.
  auto out = run_cli("tune" + u1() + " --out /nonexistent/dir/best.toml");
  CHECK(out.status == 1);
  CHECK_THAT(out.out, Catch::Contains("/nonexistent/dir/best.toml"));
  CHECK_THAT(out.out, !Catch::Contains("valid rmse"));
}

TEST_CASE("cli: tune on u1 beats the shipped ALS defaults on u1.test with a fraction of the grid's work",
          "[cli][tune][accuracy]") {
  // The shipped search (hyperband, 18 candidates, hold-out of u1.base): about 15 s on the
  // project's loaded 2-core VM.
  auto r = run_cli("tune --mode batch" + u1() + " --json -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["validation_rmse"].get<double>() <= j["default_validation_rmse"].get<double>());
  CHECK(j["rmse"].get<double>() <= j["default_rmse"].get<double>());
  CHECK(j["default_rmse"].get<double>() == Approx(0.9205).margin(5e-4));
  CHECK(j["rmse"].get<double>() < 0.921);
  // Pruning: at most half the work of the full grid it replaces.
  CHECK(j["work"].get<double>() <= 0.5 * j["grid_work"].get<double>());
  CHECK(j["grid_candidates"] == 81);
}
