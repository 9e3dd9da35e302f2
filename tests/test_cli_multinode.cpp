// `recflow node` and `recflow stream --nodes` as a user runs them: 3 node processes on
// 127.0.0.1 (always stopped), the same results as the local graph, a node killed mid-run.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

std::string ml100k() { return recflow::test::data_dir() + "/ml-100k/u.data"; }

}  // namespace

TEST_CASE("cli: recflow stream --nodes gives the local graph's results and explains placement",
          "[cli][multinode][tls]") {
  // The same job with the links secured by the shared secret, then by mutual TLS.
  auto secured = recflow::test::start_secured_nodes(3, GENERATE(false, true));
  if (secured.skipped)
    return;
  const auto& nodes = secured.nodes;
  const auto* certs = secured.certs;
  std::string common = "stream --data " + ml100k()
                       + " --split 0.8 --seed 42 --max-batches 20 --partitions 3 --no-csv --json";
  auto local = run_cli(common);
  REQUIRE(local.status == 0);
  auto remote = run_cli(common + " " + node_args(nodes, certs) + " --explain");
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
                    + " --split 0.8 --seed 42 --no-csv --passes 6 " + node_args(nodes)
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

TEST_CASE("cli: node links need --secret-file or --insecure, and a secret file only its owner reads",
          "[cli][multinode][security]") {
  recflow::test::scratch_dir dir;
  auto secret = dir.file("node.secret");
  std::ofstream(secret) << "a secret of more than sixteen bytes\n";
  REQUIRE(::chmod(secret.c_str(), 0644) == 0);
  // Group or others may read it: refused like ssh refuses a private key, naming the file.
  auto open = run_cli("node --listen 127.0.0.1:0 --secret-file " + secret);
  CHECK(open.status == 2);
  CHECK_THAT(open.out, Catch::Contains("the secret file " + secret + " has mode 0644"));
  CHECK_THAT(open.out, Catch::Contains("chmod 600 " + secret));
  auto driver = run_cli("stream --data " + ml100k() + " --no-csv --nodes 127.0.0.1:9 --secret-file "
                        + secret);
  CHECK(driver.status == 2);
  CHECK_THAT(driver.out, Catch::Contains("--nodes: the secret file " + secret + " has mode 0644"));
  // Neither a secret nor --insecure: refused, the node before it listens.
  auto bare = run_cli("node --listen 127.0.0.1:0");
  CHECK(bare.status == 2);
  CHECK_THAT(bare.out, Catch::Contains("need a shared secret (--secret-file PATH"));
  auto u1 = recflow::test::data_dir() + "/ml-100k/u1.";
  auto bare_driver = run_cli("batch --train " + u1 + "base --test " + u1 + "test --nodes 127.0.0.1:9");
  CHECK(bare_driver.status == 2);
  CHECK_THAT(bare_driver.out, Catch::Contains("--nodes: node links need a shared secret"));
  // The same file at mode 0600 is taken.
  REQUIRE(::chmod(secret.c_str(), 0600) == 0);
  node_process node({"--secret-file", secret});
  CHECK(node.running());
}

TEST_CASE("cli: --insecure runs plain links with a warning, and a driver with a secret refuses such a node",
          "[cli][multinode][security]") {
  node_process node(recflow::test::insecure());
  CHECK_THAT(node.log(), Catch::Contains("warning: --insecure: node links are not authenticated"));
  auto careful = run_cli("stream --data " + ml100k() + " --no-csv --max-batches 2 --nodes "
                         + node.address() + " --secret-file " + recflow::test::node_secret_file());
  CHECK(careful.status != 0);
  CHECK_THAT(careful.out, Catch::Contains("node " + node.address() + " asks no shared secret"));
  auto plain = run_cli("stream --data " + ml100k() + " --no-csv --max-batches 2 --nodes "
                       + node.address() + " --insecure");
  INFO(plain.out);
  CHECK(plain.status == 0);
  CHECK_THAT(plain.out, Catch::Contains("recflow: warning: --insecure"));
  CHECK(node.running());
}

TEST_CASE("cli: --tls-cert, --tls-key and --tls-ca come together, are checked before a node "
          "listens, and a driver without a certificate is refused",
          "[cli][multinode][security][tls]") {
  const auto* certs = recflow::test::tls_certs::get();
  if (!certs) {
    recflow::test::skip_without("openssl");
    return;
  }
  const std::string cert = certs->cert("node"), key = certs->key("node"), ca = certs->ca();
  auto partial = run_cli("node --listen 127.0.0.1:0 --tls-cert " + cert);
  CHECK(partial.status == 2);
  CHECK_THAT(partial.out, Catch::Contains("needs all three files: --tls-cert, --tls-key and --tls-ca"));
  auto both = run_cli("node --listen 127.0.0.1:0 --tls-cert " + cert + " --tls-key " + key
                      + " --tls-ca " + ca + " --insecure");
  CHECK(both.status == 2);
  CHECK_THAT(both.out, Catch::Contains("TLS and --insecure exclude each other"));
  recflow::test::scratch_dir dir;
  auto open_key = dir.file("node-key.pem");
  std::filesystem::copy_file(key, open_key);
  REQUIRE(::chmod(open_key.c_str(), 0644) == 0);
  auto readable = run_cli("node --listen 127.0.0.1:0 --tls-cert " + cert + " --tls-key " + open_key
                          + " --tls-ca " + ca);
  CHECK(readable.status == 2);
  CHECK_THAT(readable.out, Catch::Contains("chmod 600 " + open_key));
  // A driver whose certificate another CA signed, naming the nodes' CA: refused before it
  // connects.
  auto stranger = run_cli("stream --data " + ml100k() + " --no-csv --nodes 127.0.0.1:9 --tls-cert "
                          + certs->cert("driver", true) + " --tls-key " + certs->key("driver", true)
                          + " --tls-ca " + ca);
  CHECK(stranger.status == 2);
  CHECK_THAT(stranger.out, Catch::Contains("--nodes: the TLS certificate " + certs->cert("driver", true)
                                           + " is not signed by the CA in " + ca));
  // A TLS node, and a driver with the secret only: the node refuses it in the handshake.
  node_process node(certs->node_args());
  auto plain = run_cli("stream --data " + ml100k() + " --no-csv --max-batches 2 --nodes "
                       + node.address() + " --secret-file " + recflow::test::node_secret_file());
  CHECK(plain.status != 0);
  CHECK_THAT(plain.out, Catch::Contains("cannot connect to node " + node.address()));
  CHECK_THAT(plain.out, Catch::Contains("refuses a driver without --tls-cert"));
  CHECK_THAT(node.log(), Catch::Contains("TLS: refused 127.0.0.1:"));
  CHECK(node.running());
}
