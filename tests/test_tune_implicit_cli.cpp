// `recflow tune --implicit`: a small search on MovieLens 100K that beats item popularity on
// each user's latest event, its config round trip into `recflow batch`, and usage errors.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.hpp"
#include "test_util.hpp"

namespace {

using recflow::test::file_text;
using recflow::test::run_cli;
using recflow::test::scratch_dir;

/// MovieLens 100K, every rating an event of weight 1 (as docs/implicit.md measures it).
std::string u_data() {
  return " --implicit-threshold 1 --data " + recflow::test::data_dir() + "/ml-100k/u.data";
}

}  // namespace

TEST_CASE("cli: tune --implicit on MovieLens 100K beats popularity and writes a config batch reproduces",
          "[cli][tune][implicit]") {
  scratch_dir dir;
  auto out = dir.file("implicit.toml");
  // A small hyperband (6 candidates and the defaults): about 6 s on 2 loaded cores.
  auto r = run_cli("tune --implicit" + u_data() + " --trials 6 --out " + out + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("valid HR@10") && Catch::Contains("(defaults)"));
  CHECK_THAT(r.out, Catch::Contains("popularity baseline"));
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["command"] == "tune");
  CHECK(j["mode"] == "implicit");
  CHECK(j["held_out"] == 943);  // every MovieLens 100K user has at least 20 ratings
  CHECK(j["best"]["implicit"] == true);
  CHECK(j["best"]["iterations"] == 15);
  CHECK(j["validation_hr_at_10"].get<double>() >= j["default_validation_hr_at_10"].get<double>());
  CHECK(j["hr_at_10"].get<double>() > j["popularity_hr_at_10"].get<double>() + 0.2);
  CHECK(j["ndcg_at_10"].get<double>() > j["popularity_ndcg_at_10"].get<double>() + 0.1);
  CHECK(j["hr_at_10"].get<double>() >= 0.70);  // the implicit feedback issue's target
  CHECK(j["work_unit"].get<std::string>().find("event-sweeps") == 0);
  CHECK_FALSE(j.contains("rmse"));
  CHECK_THAT(file_text(out), Catch::Contains("[batch]") && Catch::Contains("implicit = true"));

  // The written config trains the winner again: the same test HR@10 and NDCG@10.
  auto b = run_cli("batch --config " + out + u_data() + " --json -q");
  INFO(b.out);
  REQUIRE(b.status == 0);
  auto bj = nlohmann::json::parse(b.last_line);
  CHECK(bj["feedback"] == "implicit");
  CHECK(bj["rank"] == j["best"]["rank"]);
  CHECK(bj["alpha"].get<double>() == j["best"]["alpha"].get<double>());
  CHECK(bj["hr_at_10"].get<double>() == Approx(j["hr_at_10"].get<double>()).margin(1e-12));
  CHECK(bj["ndcg_at_10"].get<double>() == Approx(j["ndcg_at_10"].get<double>()).margin(1e-12));
}

TEST_CASE("cli: tune --implicit rejects the other modes' options with exit 2 and a message",
          "[cli][tune][implicit]") {
  auto d = recflow::test::data_dir() + "/ml-100k";
  auto [args, says] = GENERATE_COPY(table<std::string, std::string>({
    {"--implicit --mode stream", "drop --mode"},
    {"--implicit --window 1000", "--window and --order are for --mode stream"},
    {"--implicit --order time", "--window and --order are for --mode stream"},
    {"--implicit --folds 3", "--folds and --validation are not for it"},
    {"--implicit --validation 0.1", "--folds and --validation are not for it"},
    {"--implicit --split 0.5", "--split is not for it"},
    {"--implicit --train " + d + "/u1.base --test " + d + "/u1.test", "give --data"},
    {"--alpha 5 --data " + d + "/u.data", "--alpha is for tune --implicit"},
    {"--negatives 50 --data " + d + "/u.data", "--negatives is for tune --implicit"},
    {"--implicit --solver qr", "--solver must be cholesky or cg"},
    {"--implicit --param gamma=0.1", "unknown parameter 'gamma' for tune --implicit"},
    {"--implicit --param alpha=-1..2", "alpha"},
  }));
  bool data_given = args.find("--train") != std::string::npos || args.find("--data") != std::string::npos;
  auto r = run_cli("tune " + args + (data_given ? "" : u_data()));
  INFO(args << "\n" << r.out);
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains(says));
}
