// `recflow stream --nodes ... --recover` as a user runs it: 3 node processes on 127.0.0.1
// (always stopped), one killed with SIGKILL mid-run; the run says what happened, exits 0
// and saves the failure-free run's model. Checkpoints on disk with --nodes, and --resume.
#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "engine_test_util.hpp"
#include "recflow/model/model_io.hpp"
#include "node_process.hpp"
#include "test_util.hpp"

using recflow::test::node_process;
using recflow::test::node_args;
using recflow::test::run_cli;
using recflow::test::scratch_dir;

namespace {

std::string ml100k() { return recflow::test::data_dir() + "/ml-100k/u.data"; }

/// Runs `recflow ARGS` (stdout line-buffered, stderr merged), calling `on_line` with each
/// line as it is printed; returns the output and the exit status.
template <class F>
recflow::test::run_result run_watching(const std::string& args, F on_line) {
  std::string cmd = "stdbuf -oL -eL " + std::string(RECFLOW_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  recflow::test::run_result r;
  char line[4096];
  while (fgets(line, sizeof line, p)) {
    r.out += line;
    on_line(std::string(line));
  }
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

}  // namespace

TEST_CASE("cli: recflow stream --nodes --recover survives a killed node with the same model",
          "[cli][multinode][recovery][tls]") {
  scratch_dir dir;
  // The same job with the links secured by the shared secret, then by mutual TLS.
  auto secured = recflow::test::start_secured_nodes(3, GENERATE(false, true));
  if (secured.skipped)
    return;
  const auto& nodes = secured.nodes;
  const auto* certs = secured.certs;
  std::string common = "stream --data " + ml100k() + " --split 0.8 --seed 42 --passes 3 "
                       "--partitions 3 --no-csv --json";
  auto local = run_cli(common + " --save " + dir.file("local.rfm"));
  REQUIRE(local.status == 0);
  bool killed = false;
  auto run = run_watching(common + " --save " + dir.file("recovered.rfm") + " "
                            + node_args(nodes, certs) + " --recover --checkpoint-every 10",
                          [&](const std::string& line) {
                            if (!killed && line.rfind("batch    25 ", 0) == 0) {
                              nodes[1]->kill_hard();
                              killed = true;
                            }
                          });
  INFO(run.out);
  REQUIRE(killed);
  CHECK(run.status == 0);
  CHECK_THAT(run.out, Catch::Contains("owners on 3 nodes (recover: checkpoint every 10 batches)"));
  CHECK_THAT(run.out, Catch::Contains("recflow: lost node " + nodes[1]->address() + " at batch "));
  // (From the checkpoint of batch 20, unless the loaded machine let the run pass batch 30
  // before the kill landed.)
  CHECK_THAT(run.out, Catch::Contains("restoring user shards 1, item shards 1 from the checkpoint "
                                      "of batch "));
  // Every batch is printed once: the replayed ones were reported before the failure.
  CHECK(run.out.find("batch    22 ") == run.out.rfind("batch    22 "));
  CHECK_THAT(run.out, Catch::Contains("batch    80 "));
  auto a = recflow::load_model(dir.file("local.rfm"));
  auto b = recflow::load_model(dir.file("recovered.rfm"));
  REQUIRE(a);
  REQUIRE(b);
  recflow::test::require_equivalent(*b, *a, true);
  CHECK(nodes[0]->running());
  CHECK(nodes[2]->running());
}

TEST_CASE("cli: --checkpoint-dir and --resume run with --nodes and continue on the nodes left",
          "[cli][multinode][recovery]") {
  scratch_dir dir;
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 3; ++k)
    nodes.push_back(std::make_unique<node_process>());
  std::string common = "stream --data " + ml100k() + " --split 0.8 --seed 42 --passes 3 "
                       "--partitions 3 --no-csv --json --checkpoint-every 10 --checkpoint-dir "
                       + dir.file("ckpt");
  auto local = run_cli("stream --data " + ml100k() + " --split 0.8 --seed 42 --passes 3 "
                       "--partitions 3 --no-csv --save " + dir.file("local.rfm"));
  REQUIRE(local.status == 0);
  // The first run recovers from a lost node, then stops after 35 batches (checkpoint 30
  // and the one at its end, 35).
  bool killed = false;
  auto first = run_watching(common + " --max-batches 35 --recover " + node_args(nodes),
                            [&](const std::string& line) {
                              if (!killed && line.rfind("batch    13 ", 0) == 0) {
                                nodes[0]->kill_hard();
                                killed = true;
                              }
                            });
  INFO(first.out);
  REQUIRE(killed);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.out, Catch::Contains("recflow: lost node " + nodes[0]->address()));
  CHECK_THAT(first.out, Catch::Contains("ckpt-000000000035.rfm"));
  // The second resumes on the two nodes left and streams the rest.
  auto second = run_cli(common + " --resume --save " + dir.file("resumed.rfm") + " --nodes "
                        + nodes[1]->address() + "," + nodes[2]->address() + " --secret-file "
                        + recflow::test::node_secret_file());
  INFO(second.out);
  REQUIRE(second.status == 0);
  CHECK_THAT(second.out, Catch::Contains("resuming from "));
  auto j = nlohmann::json::parse(second.last_line);
  CHECK(j["batches"] == 80);
  CHECK(j["batches_this_run"] == 45);
  auto a = recflow::load_model(dir.file("local.rfm"));
  auto b = recflow::load_model(dir.file("resumed.rfm"));
  REQUIRE(a);
  REQUIRE(b);
  recflow::test::require_equivalent(*b, *a);
}
