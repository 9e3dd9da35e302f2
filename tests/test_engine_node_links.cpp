// Node links without TLS (issue 16): what a stranger can do to a node that only a shared
// secret guards, before it proves anything. CAF 0.17 sizes its read buffer to the length a
// BASP header claims (zero-filled, up to 4 GiB) and keeps a silent connection open for
// ever; recflow's links close both (actors/link_layer.hpp), and log the peer.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/link_layer.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/node_host.hpp"
#include "engine_test_util.hpp"
#include "node_host_test_util.hpp"
#include "node_process.hpp"
#include "socket_test_util.hpp"

using namespace recflow;
using recflow::test::closed_by_peer;
using recflow::test::log_says;
using recflow::test::logged_node;
using recflow::test::node_process;

namespace {

/// A BASP 0.17 header (operation, 3 padding bytes, the payload length in network order,
/// 24 more bytes) claiming `length` bytes, and 3 bytes of that payload.
std::vector<unsigned char> basp_header(std::uint32_t length) {
  std::vector<unsigned char> h(basp_header_bytes + 3, 'a');
  std::fill_n(h.begin(), basp_header_bytes, 0);
  for (int b = 0; b < 4; ++b)
    h[basp_length_offset + b] = static_cast<unsigned char>(length >> (8 * (3 - b)));
  return h;
}

/// A graph of ML-100K's first `n` batches of 1,000 over 2 shards.
streaming_graph ml100k_graph(std::size_t n) {
  return make_streaming_graph(test::replay(test::ml100k_batches(n)), test::cluster_test_params(), 2,
                              {1, 5});
}

/// A driver with the tests' secret on the node at `port`: its engine, REQUIREd to start.
std::unique_ptr<cluster_engine> driver(std::uint16_t port, std::size_t batches) {
  auto cluster = cluster_engine::make(ml100k_graph(batches),
                                      {.nodes = {{"127.0.0.1", port}}, .secret = test::node_secret()});
  INFO((cluster ? std::string() : cluster.err().message));
  REQUIRE(cluster);
  return std::move(*cluster);
}

/// A node_host with the tests' shared secret and `o`'s limits.
node_host_options secret_node(node_host_options o = {}) {
  o.secret = test::node_secret();
  return o;
}

}  // namespace

TEST_CASE("node links: a BASP header claiming 4 GiB costs a node without TLS nothing, and it "
          "goes on", "[engine][multinode][security]") {
  node_process node;  // the shared secret, no TLS
  const auto before = node.rss_mb();
  REQUIRE(before > 0);
  int fd = test::connect_loopback(node.port());
  auto header = basp_header(0xffffffffu);
  CHECK(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) == ssize_t(header.size()));
  // The node closes the connection (after its hello) instead of filling a 4 GiB buffer
  // (877 MB of RSS within 3 s before, docs/security.md): BASP never reads a byte of a peer
  // that has not proven the secret.
  CHECK(closed_by_peer(fd));
  ::close(fd);
  const auto after = node.rss_mb();
  INFO("node RSS " << before << " MB before, " << after << " MB after");
  CHECK(after - before < 64);
  REQUIRE(node.running());
  CHECK_THAT(node.log(), Catch::Contains(": sent no proof of the shared secret"));
  // A driver with the secret still runs a job on it.
  CHECK(driver(node.port(), 3)->run_n(3));
}

TEST_CASE("node links: without TLS, a message over the maximum closes the peer's connection "
          "before CAF reads it", "[engine][multinode][security]") {
  // An insecure node, whose BASP a raw peer reaches (with a secret, the proof comes first).
  logged_node node({.max_message_bytes = std::size_t{1} << 20, .insecure = true});
  int fd = test::connect_loopback(node.port());
  auto header = basp_header(std::uint32_t{1} << 21);
  CHECK(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) == ssize_t(header.size()));
  CHECK(closed_by_peer(fd));
  ::close(fd);
  CHECK(log_says(node, ": it sent a message of 2097152 bytes (at most 1048576)"));
  CHECK_THAT(node.log(), Catch::Contains("link: closed 127.0.0.1:"));
}

TEST_CASE("node links: without TLS, a connection that never sends its handshake is closed "
          "after the timeout", "[engine][multinode][security]") {
  logged_node node(secret_node({.handshake_timeout = std::chrono::milliseconds(300)}));
  int fd = test::connect_loopback(node.port());
  // Silent: the node closes the connection long before the 10 s wait ends.
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(fd));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  ::close(fd);
  CHECK(log_says(node, ": no handshake within 300 ms"));
  CHECK_THAT(node.log(), Catch::Contains("link: closed 127.0.0.1:"));
  // A driver that does handshake is not closed by the timeout: a job outlives it.
  auto cluster = driver(node.port(), 6);
  REQUIRE(cluster->run_n(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(cluster->run_n(3));
  CHECK(node.log().find("no handshake within 300 ms") == node.log().rfind("no handshake"));
}

TEST_CASE("node links: without TLS, a driver without the shared secret or with another one "
          "cannot open a link, and the node goes on", "[engine][multinode][security]") {
  logged_node node(secret_node());
  auto nodes = std::vector<node_endpoint>{{"127.0.0.1", node.port()}};
  auto other = cluster_engine::make(ml100k_graph(3),
                                    {.nodes = nodes, .secret = "another secret, also long enough"});
  REQUIRE_FALSE(other);
  CHECK_THAT(other.err().message,
             Catch::Contains("node 127.0.0.1:" + std::to_string(node.port())
                             + " does not know the shared secret (its proof of it is wrong)"));
  INFO("node log: " << node.log());
  // The node logs the driver's wrong proof, or (when the driver, having found the node's
  // proof wrong, closed before its own went out) that it left before proving.
  CHECK((log_says(node, "link: closed 127.0.0.1:")
         && (node.log().find(": wrong proof of the shared secret") != std::string::npos
             || node.log().find(": it left before proving the shared secret")
                  != std::string::npos)));
  // A raw peer that answers the node's hello with its own and a made-up proof.
  int fd = test::connect_loopback(node.port());
  std::string hello = "recflow-link-1 " + std::string(64, 'a') + "\n";
  CHECK(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) == ssize_t(hello.size()));
  std::string proof(64, '0');
  CHECK(::send(fd, proof.data(), proof.size(), MSG_NOSIGNAL) == ssize_t(proof.size()));
  CHECK(closed_by_peer(fd));
  ::close(fd);
  // The driver with the secret runs its job.
  CHECK(driver(node.port(), 3)->run_n(3));
}
