// Mutual TLS on node links (issue 16): `recflow node` processes started with the
// certificates tools/tls-certs.sh makes, a real job driven over TLS against the local
// engine, strangers without a certificate from the nodes' CA, a BASP header claiming 4 GiB
// sent before any handshake, and the checks of the TLS files before CAF reads them.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/link_layer.hpp"
#include "recflow/actors/tls_tunnel.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/link_secret.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/node_host.hpp"
#include "cli_test_util.hpp"
#include "engine_test_util.hpp"
#include "node_host_test_util.hpp"
#include "node_process.hpp"
#include "skip_test_util.hpp"
#include "socket_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using recflow::test::node_process;
using recflow::test::tls_certs;

namespace {

/// Connects to the node at `port` from a fresh actor system of the cluster's settings with
/// `tls` (empty: plain TCP), as a driver's first step; the error CAF gave, or "" when the
/// connection stood.
std::string connect_error(std::uint16_t port, const link_tls& tls) {
  caf::actor_system_config cfg;
  add_graph_message_types(cfg);
  add_cluster_message_types(cfg);
  configure_cluster_middleman(cfg);
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto links = link_layer::start(sys, {.files = tls});
  REQUIRE(links);
  auto node = (*links)->remote_actor("127.0.0.1", port);
  return node ? std::string() : sys.render(node.error());
}

/// A TLS node hosted in this process (node_host, any free port), its log lines kept.
struct logged_node : test::logged_node {
  logged_node(const tls_certs& certs, node_host_options o)
      : test::logged_node([&] {
          o.tls = certs.files<link_tls>("node");
          return std::move(o);
        }()) {}
};

using test::closed_by_peer;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("node tls: a job over mutual TLS trains the local engine's model, strangers are "
          "refused in the handshake and the job goes on",
          "[engine][multinode][security][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  auto nodes = test::start_nodes(2, certs->node_args());
  auto batches = test::ml100k_batches(25);
  rating_scale scale{1.0, 5.0};
  auto graph = [&] {
    return make_streaming_graph(test::replay(batches), test::cluster_test_params(), 4, scale);
  };
  auto local = local_engine::make(graph()).value();
  REQUIRE(local->run());
  auto expected = local->snapshot();
  REQUIRE(expected);

  auto cluster = cluster_engine::make(
    graph(),
    {.nodes = test::endpoints<node_endpoint>(nodes), .tls = certs->files<link_tls>("driver")});
  INFO((cluster ? std::string() : cluster.err().message));
  REQUIRE(cluster);
  REQUIRE((*cluster)->run_n(10));

  // While the job runs: a plain CAF peer, and a driver whose certificate another CA signed
  // (it trusts its own CA, so only the node's check refuses it), get no connection.
  CHECK_FALSE(connect_error(nodes[0]->port(), {}).empty());
  CHECK_FALSE(connect_error(nodes[1]->port(), certs->files<link_tls>("driver", true)).empty());
  auto stranger = cluster_engine::make(
    graph(),
    {.nodes = test::endpoints<node_endpoint>(nodes),
     .tls = certs->files<link_tls>("driver", true),
     .connect_timeout = std::chrono::seconds(5)});
  REQUIRE_FALSE(stranger);
  CHECK_THAT(stranger.err().message, Catch::Contains("cannot connect to node 127.0.0.1:"));
  // A stranger whose certificate does not fit the CA it names is stopped before it
  // connects at all.
  auto mixed = certs->files<link_tls>("driver", true);
  mixed.ca = certs->ca();
  auto refused = cluster_engine::make(
    graph(),
    {.nodes = test::endpoints<node_endpoint>(nodes), .tls = mixed});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("is not signed by the CA in"));

  auto sum = (*cluster)->run();
  INFO((sum ? std::string() : sum.err().message));
  REQUIRE(sum);
  CHECK(sum->end_of_stream);
  auto got = (*cluster)->snapshot();
  REQUIRE(got);
  test::require_equivalent(*got, *expected);
  cluster->reset();
  for (auto& n : nodes) {
    CHECK(n->running());
    // One driver reached each node: no stranger got as far as a hello.
    CHECK(count(n->log(), "connected (protocol") == 1);
  }
}

TEST_CASE("node tls: a BASP header claiming 4 GiB, sent without a handshake, costs a TLS node "
          "nothing", "[engine][multinode][security][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  node_process node(certs->node_args());
  const auto before = node.rss_mb();
  REQUIRE(before > 0);
  // A plain node sizes its read buffer to the claimed length before any handshake (877 MB
  // of RSS within 3 s, docs/security.md); a TLS node reads these bytes as a TLS record.
  int fd = test::connect_loopback(node.port());
  // BASP 0.17's header: operation (1 byte), 3 padding bytes, payload length (4 bytes,
  // network order) and 24 more bytes; then 3 bytes of "payload".
  std::vector<unsigned char> header(32, 0);
  header[4] = header[5] = header[6] = header[7] = 0xff;
  header.insert(header.end(), {'a', 'b', 'c'});
  CHECK(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) == ssize_t(header.size()));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto after = node.rss_mb();
  ::close(fd);
  INFO("node RSS " << before << " MB before, " << after << " MB after");
  CHECK(after - before < 64);
  REQUIRE(node.running());
  // And it still takes a driver with a certificate.
  CHECK(connect_error(node.port(), certs->files<link_tls>("driver")).empty());
}

TEST_CASE("node tls: a connection that never finishes its handshake is closed after the timeout",
          "[engine][multinode][security][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  logged_node node(*certs, {.handshake_timeout = std::chrono::milliseconds(300)});
  int fd = test::connect_loopback(node.port());
  // Silent: the node closes the connection long before the 10 s wait ends.
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(fd));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  ::close(fd);
  CHECK_THAT(node.log(), Catch::Contains("TLS: closed 127.0.0.1:"));
  CHECK_THAT(node.log(), Catch::Contains(": no TLS handshake within 300 ms"));
}

TEST_CASE("node tls: a message over the maximum closes the peer's connection before CAF reads "
          "it", "[engine][multinode][security][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  logged_node node(*certs, {.max_message_bytes = std::size_t{1} << 20});
  // A certificate holder that speaks BASP badly: through a tunnel of its own, a header
  // claiming a 2 MiB payload (bytes 4..7, big-endian) and a few bytes of it.
  auto tunnel = tls_tunnel::start({.files = certs->files<link_tls>("driver")});
  REQUIRE(tunnel);
  auto fd = (*tunnel)->dial("127.0.0.1", node.port());
  INFO((fd ? std::string() : fd.err().message));
  REQUIRE(fd);
  std::vector<unsigned char> frame(basp_header_bytes, 0);
  frame[basp_length_offset + 1] = 0x20;  // 0x00200000
  frame.insert(frame.end(), {'a', 'b', 'c'});
  CHECK(::send(*fd, frame.data(), frame.size(), MSG_NOSIGNAL) == ssize_t(frame.size()));
  // The node closes the link: what it sent first (its BASP handshake), then the end.
  CHECK(closed_by_peer(*fd));
  ::close(*fd);
  CHECK_THAT(node.log(), Catch::Contains(": it sent a message of 2097152 bytes (at most 1048576)"));
}

TEST_CASE("node tls: the socket folder of a killed node is removed by the next node",
          "[engine][multinode][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  // The folders of node `pid` (recflow-links-PID-XXXXXX in the temporary folder).
  auto folders_of = [](pid_t pid) {
    std::size_t n = 0;
    const auto prefix = "recflow-links-" + std::to_string(pid) + "-";
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
      n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
  };
  auto killed = std::make_unique<node_process>(certs->node_args());
  const auto pid = killed->pid();
  REQUIRE(folders_of(pid) == 1);
  killed->kill_hard();
  CHECK(folders_of(pid) == 1);  // SIGKILL: nothing removed it
  node_process next(certs->node_args());
  CHECK(folders_of(pid) == 0);
  CHECK(folders_of(next.pid()) == 1);
  // A live node's folder stays when another starts.
  node_process third(certs->node_args());
  CHECK(folders_of(next.pid()) == 1);
  CHECK(folders_of(third.pid()) == 1);
}

TEST_CASE("link tls: the files are checked before CAF reads them, and errors name the file",
          "[engine][security][tls]") {
  const auto* certs = tls_certs::get();
  if (!certs) {
    test::skip_without("openssl");
    return;
  }
  const auto good = certs->files<link_tls>("driver");
  REQUIRE(check_link_tls(good));
  auto fails_with = [](const link_tls& tls, const std::string& text) {
    auto ok = check_link_tls(tls);
    REQUIRE_FALSE(ok);
    CHECK_THAT(ok.err().message, Catch::Contains(text));
  };
  SECTION("all three files or none") {
    fails_with({good.certificate, good.key, ""}, "needs all three files: --tls-cert, --tls-key");
    fails_with({"", "", good.ca}, "needs all three files");
  }
  SECTION("the key only its owner may read, of the certificate, not encrypted") {
    test::scratch_dir dir;
    auto open_key = dir.file("open-key.pem");
    std::filesystem::copy_file(good.key, open_key);
    ::chmod(open_key.c_str(), 0644);
    fails_with({good.certificate, open_key, good.ca}, "chmod 600 " + open_key);
    fails_with({good.certificate, certs->key("node"), good.ca},
               "is not the key of the certificate " + good.certificate);
    auto sealed = dir.file("sealed-key.pem");
    auto cmd = "openssl pkey -in " + good.key + " -aes256 -passout pass:p4ssw0rd -out " + sealed;
    REQUIRE(std::system(cmd.c_str()) == 0);
    ::chmod(sealed.c_str(), 0600);
    fails_with({good.certificate, sealed, good.ca}, "cannot read the TLS key " + sealed);
  }
  SECTION("a certificate the CA did not sign, files that are not PEM or not there") {
    fails_with({good.certificate, good.key, certs->ca(true)},
               "the TLS certificate " + good.certificate + " is not signed by the CA in "
                 + certs->ca(true));
    fails_with({good.key, good.key, good.ca}, "cannot read the TLS certificate " + good.key);
    fails_with({good.certificate, good.key, "/nonexistent/ca.pem"},
               "cannot read the CA certificate(s) /nonexistent/ca.pem");
  }
  SECTION("with a secret, alone, or excluded by insecure") {
    CHECK(check_link_security("", false, good));
    CHECK(check_link_security(test::node_secret(), false, good));
    auto both = check_link_security("", true, good);
    REQUIRE_FALSE(both);
    CHECK_THAT(both.err().message, Catch::Contains("TLS and --insecure exclude each other"));
    auto none = check_link_security("", false, {});
    REQUIRE_FALSE(none);
    CHECK_THAT(none.err().message, Catch::Contains("TLS (--tls-cert, --tls-key and --tls-ca)"));
    // A node host checks them before it listens.
    auto host = node_host::start({.listen = {"127.0.0.1", 0},
                                  .tls = {good.certificate, good.key, certs->ca(true)}});
    REQUIRE_FALSE(host);
    CHECK_THAT(host.err().message, Catch::Contains("is not signed by the CA"));
  }
}
