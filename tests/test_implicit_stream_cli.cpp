// `recflow stream --implicit`: the per-batch report, the CSV and the JSON summary, the
// graph and the reference agreeing, a saved model served with fold-in, bad options.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/model/model_io.hpp"
#include "tests/cli_test_util.hpp"
#include "tests/support/planted_event_file.hpp"

using recflow::test::run_cli;
using recflow::test::scratch_dir;

TEST_CASE("cli: stream --implicit reports HR@10 after every batch, graph equal to reference",
          "[cli][implicit][stream]") {
  scratch_dir dir;
  auto data = recflow::test::write_planted_events(dir.path);
  const std::string common = "stream --implicit --data " + data + " --rank 3 --lambda 0.5 "
                             "--alpha 5 --batch-size 40 --negatives 20 --json ";
  auto csv = (dir.path / "hr.csv").string();
  auto model = (dir.path / "stream.model").string();
  auto graph = run_cli(common + "--partitions 3 --csv " + csv + " --save " + model);
  INFO(graph.out);
  REQUIRE(graph.status == 0);
  CHECK(graph.out.find("batch     1") != std::string::npos);
  CHECK(graph.out.find("popularity baseline HR@10") != std::string::npos);
  auto j = nlohmann::json::parse(graph.last_line);
  CHECK(j["command"] == "stream");
  CHECK(j["feedback"] == "implicit");
  CHECK(j["engine"] == "local");
  CHECK(j["partitions"] == 3);
  CHECK(j["held_out"] == 36);
  CHECK(j["batches"] == 5);
  CHECK(j["hr_at_10"].get<double>() > j["popularity_hr_at_10"].get<double>());
  CHECK(j["hr_at_10"].get<double>() >= 0.9);

  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  CHECK(header == "batch,events,streamed,hr_at_k,ndcg_at_k,update_ms");
  int rows = 0;
  while (std::getline(in, line))
    ++rows;
  CHECK(rows == 5);

  auto ref = run_cli(common + "--engine reference --no-csv -q");
  INFO(ref.out);
  REQUIRE(ref.status == 0);
  auto jr = nlohmann::json::parse(ref.last_line);
  CHECK(jr["engine"] == "reference");
  CHECK(jr["hr_at_10"] == j["hr_at_10"]);
  CHECK(jr["ndcg_at_10"] == j["ndcg_at_10"]);

  recflow::model_metadata meta;
  auto m = recflow::load_model(model, meta);
  REQUIRE(m);
  CHECK(meta.get("trainer") == "implicit-stream");
  CHECK(m->n_users() == 36);
}

TEST_CASE("cli: stream --implicit continues from a batch --implicit model",
          "[cli][implicit][stream]") {
  scratch_dir dir;
  auto data = recflow::test::write_planted_events(dir.path);
  auto seed = (dir.path / "batch.model").string();
  auto b = run_cli("batch --implicit --data " + data + " --rank 3 --lambda 0.5 --iterations 5 "
                   "--save " + seed + " -q");
  INFO(b.out);
  REQUIRE(b.status == 0);
  auto r = run_cli("stream --implicit --data " + data + " --init-model " + seed +
                   " --lambda 0.5 --batch-size 100 --no-csv --json -q");
  INFO(r.out);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.last_line);
  CHECK(j["rank"] == 3);  // the seed model's
  CHECK(j["hr_at_10"].get<double>() >= 0.9);
}

TEST_CASE("cli: stream --implicit refuses what it does not do, and bad input",
          "[cli][implicit][stream]") {
  scratch_dir dir;
  auto data = recflow::test::write_planted_events(dir.path);
  auto base = "stream --implicit --no-csv --data " + data;
  for (std::string opt : {"--mode sgd", "--gamma 0.1", "--resume", "--recover"}) {
    auto r = run_cli(base + " " + opt);
    INFO(opt << ": " << r.out);
    CHECK(r.status == 2);
    CHECK(r.out.find("is not an option of --implicit streaming") != std::string::npos);
  }
  auto w = run_cli(base + " --weighting bm25");
  CHECK(w.status == 2);
  CHECK(w.out.find("the stream takes weighting none") != std::string::npos);
  auto p = run_cli(base + " --partitioner degree");
  CHECK(p.status == 2);
  CHECK(p.out.find("hash or modulo") != std::string::npos);

  auto bad = (dir.path / "bad.tsv").string();
  std::ofstream(bad) << "1\t2\t1\t5\n1\t3\tx\t6\n";
  auto r = run_cli("stream --implicit --no-csv --data " + bad);
  CHECK(r.status != 0);
  CHECK(r.out.find("bad.tsv:2") != std::string::npos);
}
