// `recflow batch --nodes` as a user runs it: 3 node processes on 127.0.0.1 (always
// stopped), the same model file as the local graph, a node killed mid-training.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "node_process.hpp"
#include "test_util.hpp"

using recflow::test::node_process;
using recflow::test::node_args;
using recflow::test::run_cli;
using recflow::test::run_killing;

namespace {

std::string u1(const char* part) { return recflow::test::data_dir() + "/ml-100k/u1." + part; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("cli: recflow batch --nodes saves the local graph's model and explains placement",
          "[cli][multinode][als][tls]") {
  // The same job with the links secured by the shared secret, then by mutual TLS.
  auto secured = recflow::test::start_secured_nodes(3, GENERATE(false, true));
  if (secured.skipped)
    return;
  const auto& nodes = secured.nodes;
  const auto* certs = secured.certs;
  auto dir = std::filesystem::temp_directory_path()
             / ("recflow-als-nodes-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto local_model = (dir / "local.rfm").string(), remote_model = (dir / "nodes.rfm").string();
  std::string common = "batch --train " + u1("base") + " --test " + u1("test")
                       + " --rank 10 --iterations 5 --partitions 3 --json -q";
  auto local = run_cli(common + " --save " + local_model);
  REQUIRE(local.status == 0);
  auto remote = run_cli(common + " --save " + remote_model + " " + node_args(nodes, certs)
                        + " --explain");
  INFO(remote.out);
  REQUIRE(remote.status == 0);
  for (int k = 0; k < 3; ++k)
    CHECK_THAT(remote.out, Catch::Contains("node " + nodes[std::size_t(k)]->address() + ": user blocks "
                                           + std::to_string(k) + ", item blocks " + std::to_string(k)));
  auto a = nlohmann::json::parse(local.last_line);
  auto b = nlohmann::json::parse(remote.last_line);
  CHECK(b["nodes"] == 3);
  CHECK(a["rmse"].get<double>() == b["rmse"].get<double>());
  // The same bytes: parameters, ids, rated items and metadata (the test RMSE included).
  auto x = slurp(local_model), y = slurp(remote_model);
  CHECK(x.size() > 1000);
  CHECK(x == y);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cli: recflow batch --implicit --nodes saves the reference's and the local graph's model",
          "[cli][multinode][implicit][als]") {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 2; ++k)
    nodes.push_back(std::make_unique<node_process>());
  auto dir = std::filesystem::temp_directory_path()
             / ("recflow-implicit-nodes-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string common = "batch --implicit --implicit-threshold 4 --data " + u1("base")
                       + " --rank 8 --iterations 4 --partitions 3 --json -q --save ";
  auto reference = run_cli(common + (dir / "reference.rfm").string() + " --engine reference");
  auto local = run_cli(common + (dir / "local.rfm").string());
  auto remote = run_cli(common + (dir / "nodes.rfm").string() + " " + node_args(nodes));
  INFO(reference.out << local.out << remote.out);
  REQUIRE(reference.status == 0);
  REQUIRE(local.status == 0);
  REQUIRE(remote.status == 0);
  auto r = nlohmann::json::parse(reference.last_line);
  auto l = nlohmann::json::parse(local.last_line);
  auto n = nlohmann::json::parse(remote.last_line);
  CHECK(r["engine"] == "reference");
  CHECK(l["engine"] == "local");
  CHECK(l["partitions"] == 3);
  CHECK(n["nodes"] == 2);
  CHECK(l["hr_at_10"] == r["hr_at_10"]);
  CHECK(n["hr_at_10"] == r["hr_at_10"]);
  // The same bytes: parameters, ids, rated items and metadata.
  auto x = slurp((dir / "reference.rfm").string());
  CHECK(x.size() > 1000);
  CHECK(x == slurp((dir / "local.rfm").string()));
  CHECK(x == slurp((dir / "nodes.rfm").string()));
  // Missing pairs weighted by popularity train on the reference alone.
  auto weighted = run_cli(common + (dir / "w.rfm").string() + " --missing-exponent 0.5 "
                          + node_args(nodes));
  CHECK(weighted.status == 2);
  CHECK_THAT(weighted.out, Catch::Contains("--missing-exponent needs --engine reference"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("cli: a node killed mid-training ends recflow batch with the node, the sweep and exit 1",
          "[cli][multinode][als]") {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 3; ++k)
    nodes.push_back(std::make_unique<node_process>());
  // A progress line on stderr after every sweep (RECFLOW_PROGRESS_INTERVAL=0): once
  // the first is out, the sweeps are running: kill a node.
  std::string cmd = "RECFLOW_PROGRESS_INTERVAL=0 " + std::string(RECFLOW_CLI_PATH)
                    + " batch --train " + u1("base") + " --test " + u1("test")
                    + " --rank 10 --iterations 1000 --partitions 3 " + node_args(nodes)
                    + " 2>&1";
  auto run = run_killing(cmd, *nodes[2], [](const std::string& line) {
    return line.find("batch ALS") != std::string::npos;
  });
  INFO(run.out);
  REQUIRE(run.killed);
  CHECK(WIFEXITED(run.status));
  CHECK(WEXITSTATUS(run.status) == 1);
  CHECK_THAT(run.out, Catch::Contains("recflow: lost node " + nodes[2]->address() + " at sweep "));
  CHECK(nodes[0]->running());
  CHECK(nodes[1]->running());
}

TEST_CASE("cli: recflow batch --nodes refuses the reference engine and bad addresses",
          "[cli][multinode][als]") {
  auto ref = run_cli("batch --train " + u1("base") + " --test " + u1("test")
                     + " --engine reference --nodes 127.0.0.1:9");
  CHECK(ref.status == 2);
  CHECK_THAT(ref.out, Catch::Contains("--nodes runs the actor graph"));
  auto bad = run_cli("batch --train " + u1("base") + " --test " + u1("test") + " --nodes nowhere");
  CHECK(bad.status == 2);
  CHECK_THAT(bad.out, Catch::Contains("node address 'nowhere' is not host:port"));
}

TEST_CASE("cli: recflow stream --implicit --nodes saves the reference's model and explains placement",
          "[cli][multinode][implicit][stream]") {
  auto nodes = recflow::test::start_nodes(2);
  auto dir = std::filesystem::temp_directory_path()
             / ("recflow-implicit-stream-nodes-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string common = "stream --implicit --implicit-threshold 4 --data " + u1("base")
                       + " --rank 8 --max-batches 12 --partitions 3 --no-csv --json -q --save ";
  auto reference = run_cli(common + (dir / "reference.rfm").string() + " --engine reference");
  auto remote = run_cli(common + (dir / "nodes.rfm").string() + " " + node_args(nodes)
                        + " --explain");
  INFO(reference.out << remote.out);
  REQUIRE(reference.status == 0);
  REQUIRE(remote.status == 0);
  CHECK_THAT(remote.out, Catch::Contains("node " + nodes[0]->address()
                                         + ": user shards 0 2, item shards 1"));
  auto r = nlohmann::json::parse(reference.last_line);
  auto n = nlohmann::json::parse(remote.last_line);
  CHECK(n["nodes"] == 2);
  CHECK(n["batches"] == 12);
  CHECK(n["hr_at_10"] == r["hr_at_10"]);
  CHECK(n["ndcg_at_10"] == r["ndcg_at_10"]);
  auto x = slurp((dir / "reference.rfm").string());
  CHECK(x.size() > 1000);
  CHECK(x == slurp((dir / "nodes.rfm").string()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("cli: a node killed mid-stream ends recflow stream --implicit with the node and exit 1",
          "[cli][multinode][implicit][stream]") {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int k = 0; k < 2; ++k)
    nodes.push_back(std::make_unique<node_process>());
  std::string cmd = std::string(RECFLOW_CLI_PATH) + " stream --implicit --data " + u1("base")
                    + " --batch-size 200 --rank 8 --no-csv " + node_args(nodes) + " 2>&1";
  auto run = run_killing(cmd, *nodes[1], [](const std::string& line) {
    return line.rfind("batch ", 0) == 0;
  });
  INFO(run.out);
  REQUIRE(run.killed);
  CHECK(WIFEXITED(run.status));
  CHECK(WEXITSTATUS(run.status) == 1);
  CHECK_THAT(run.out, Catch::Contains("lost node " + nodes[1]->address() + " at batch "));
  CHECK(nodes[0]->running());
}
