/// A node hosted in the test process (node_host, 127.0.0.1, any free port) whose log lines
/// are kept, a wait for a line in a node's log, and a raw socket's wait for the node to
/// close it: the hostile-peer tests of node links, with TLS (test_engine_node_tls.cpp) and
/// without (test_engine_node_links.cpp, test_engine_node_security.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "recflow/engine/node_host.hpp"

namespace recflow::test {

/// A node_host started with `o` on 127.0.0.1 (any free port), its log lines kept.
struct logged_node {
  std::mutex m;
  std::string lines;
  std::unique_ptr<node_host> host;
  explicit logged_node(node_host_options o) {
    o.listen = {"127.0.0.1", 0};
    o.log = [this](const std::string& line) {
      std::lock_guard lock(m);
      lines += line + "\n";
    };
    auto started = node_host::start(std::move(o));
    INFO((started ? std::string() : started.err().message));
    REQUIRE(started);
    host = std::move(*started);
  }
  std::uint16_t port() const { return host->address().port; }
  std::string log() {
    std::lock_guard lock(m);
    return lines;
  }
};

/// Waits up to 10 s for `text` in the log of `node` (a logged_node or a node_process).
template <class Node>
bool log_says(Node& node, const std::string& text) {
  for (int k = 0; k < 500; ++k) {
    if (node.log().find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// Reads `fd` until the peer closes it (true) or 10 s pass or an error comes (false).
inline bool closed_by_peer(int fd) {
  timeval wait{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char buf[4096];
  ssize_t got = 0;
  while ((got = ::recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  return got == 0;
}

}  // namespace recflow::test
