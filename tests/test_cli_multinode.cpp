// `recflow node` and `recflow stream --nodes` as a user runs them: 3 node processes on
// 127.0.0.1 (always stopped), the same results as the local graph, a node killed mid-run.
#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "node_process.hpp"
#include "test_util.hpp"

using recflow::test::node_process;
using recflow::test::node_list;
using recflow::test::run_cli;
using recflow::test::run_killing;

namespace {

std::string ml100k() { return recflow::test::data_dir() + "/ml-100k/u.data"; }

}  // namespace

TEST_CASE("cli: recflow stream --nodes gives the local graph's results and explains placement",
          "[cli][multinode]") {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 3; ++k)
    nodes.push_back(std::make_unique<node_process>());
  std::string common = "stream --data " + ml100k()
                       + " --split 0.8 --seed 42 --max-batches 20 --partitions 3 --no-csv --json";
  auto local = run_cli(common);
  REQUIRE(local.status == 0);
  auto remote = run_cli(common + " --nodes " + node_list(nodes) + " --explain");
  INFO(remote.out);
  REQUIRE(remote.status == 0);
  CHECK_THAT(remote.out, Catch::Contains("node " + nodes[0]->address() + ": user shards 0, item shards 0"));
  CHECK_THAT(remote.out, Catch::Contains("node " + nodes[1]->address() + ": user shards 1, item shards 1"));
  CHECK_THAT(remote.out, Catch::Contains("node " + nodes[2]->address() + ": user shards 2, item shards 2"));
  CHECK_THAT(remote.out, Catch::Contains("owners on 3 nodes"));
  auto a = nlohmann::json::parse(local.last_line);
  auto b = nlohmann::json::parse(remote.last_line);
  CHECK(b["nodes"] == 3);
  CHECK(a["batches"] == b["batches"]);
  CHECK(a["rmse"].get<double>() == b["rmse"].get<double>());
  CHECK(a["mae"].get<double>() == b["mae"].get<double>());
  CHECK(a["ndcg_at_k"].get<double>() == b["ndcg_at_k"].get<double>());
}

TEST_CASE("cli: a node killed mid-stream ends the run with the node, the batch and exit 1",
          "[cli][multinode]") {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 3; ++k)
    nodes.push_back(std::make_unique<node_process>());
  // stdbuf: per-batch lines reach the pipe as they are printed, not at exit.
  std::string cmd = "stdbuf -oL " + std::string(RECFLOW_CLI_PATH) + " stream --data " + ml100k()
                    + " --split 0.8 --seed 42 --no-csv --passes 6 --nodes " + node_list(nodes)
                    + " 2>&1";
  auto run = run_killing(cmd, *nodes[2], [](const std::string& line) {
    return line.rfind("batch     3 ", 0) == 0;
  });
  INFO(run.out);
  REQUIRE(run.killed);
  CHECK(WIFEXITED(run.status));
  CHECK(WEXITSTATUS(run.status) == 1);
  CHECK_THAT(run.out, Catch::Contains("recflow: lost node " + nodes[2]->address() + " at batch "));
  CHECK(nodes[0]->running());
  CHECK(nodes[1]->running());
}

TEST_CASE("cli: bad --nodes and unreachable nodes are clear errors", "[cli][multinode]") {
  auto bad = run_cli("stream --data " + ml100k() + " --no-csv --nodes localhost");
  CHECK(bad.status == 2);
  CHECK_THAT(bad.out, Catch::Contains("node address 'localhost' is not host:port"));
  auto ref = run_cli("stream --data " + ml100k() + " --no-csv --engine reference --nodes 127.0.0.1:9");
  CHECK(ref.status == 2);
  CHECK_THAT(ref.out, Catch::Contains("--nodes runs the actor graph"));
  auto node = run_cli("node --listen nonsense");
  CHECK(node.status == 2);
}
