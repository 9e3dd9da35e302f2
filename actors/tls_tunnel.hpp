/// Mutual TLS for node links, outside CAF (issue 16). CAF 0.17's own OpenSSL module was
/// tried and is not used: on this machine it stalled a streaming job to ~330 ms per batch
/// (plain TCP: 12-40 ms), and one refused connection on a node broke the node's other
/// links (the running job was lost). So recflow speaks TLS itself, on one thread per
/// process (Boost.Asio, OpenSSL), and CAF speaks plain BASP to it over local sockets that
/// no other user can reach:
///
///   peer --TLS/TCP--> tunnel --Unix socket in a 0700 folder--> CAF (the node's doorman)
///   CAF --socketpair--> tunnel --TLS/TCP--> node               (a driver's or node's dial)
///
/// Both ends present a certificate signed by the CA and check the other's (mutual TLS,
/// TLS 1.2 or later). A peer that does not finish its handshake within the handshake
/// timeout is closed, and at most `max_connections` connections are open at once; a
/// refused peer is logged with its address. What a peer sends is read as CAF's BASP
/// frames (a 32-byte header whose bytes 4..7 give the payload's length, big-endian): a
/// frame longer than `max_message_bytes` closes the connection before CAF sees its header
/// (CAF 0.17 would size a buffer to any claimed length, up to 4 GiB). No CAF here
/// (actors/link_layer.hpp adapts it and checks the header's size against CAF's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "recflow/actors/link_auth.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// The bytes of a BASP header (CAF 0.17), and where its payload length sits.
inline constexpr std::size_t basp_header_bytes = 32;
inline constexpr std::size_t basp_length_offset = 4;
/// The payload length a BASP header claims (big-endian at basp_length_offset).
inline std::size_t basp_payload_length(const unsigned char* header) noexcept {
  const unsigned char* b = header + basp_length_offset;
  return (std::size_t(b[0]) << 24) | (std::size_t(b[1]) << 16) | (std::size_t(b[2]) << 8)
         | std::size_t(b[3]);
}

/// How a tunnel runs, with defaults.
struct tls_tunnel_options {
  link_tls files{};  ///< this process's certificate and key, and the CA (all three)
  /// A peer must finish its TLS handshake within this time, or it is closed.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Connecting to a node and the handshake of a dial must finish within this time.
  std::chrono::milliseconds connect_timeout{10'000};
  /// Open connections (accepted and dialled) at most; more are closed at once.
  std::size_t max_connections = 256;
  /// The longest BASP payload a peer may send (a factor shard of a large model is the
  /// longest message recflow sends); a longer one closes that connection.
  std::size_t max_message_bytes = std::size_t{1} << 30;
  /// One line per refused or failed peer ("TLS handshake with 10.0.0.7:51514 failed:
  /// ..."); may be empty. Called on the tunnel's thread.
  std::function<void(const std::string&)> log{};
};

class tls_tunnel {
 public:
  /// Loads the files (errors name them) and starts the tunnel's thread.
  static result<std::unique_ptr<tls_tunnel>> start(tls_tunnel_options o);
  /// Closes every connection and stops the thread.
  ~tls_tunnel();
  tls_tunnel(const tls_tunnel&) = delete;
  tls_tunnel& operator=(const tls_tunnel&) = delete;

  /// What serve() gives: the TLS port bound, and a listening Unix socket (its file
  /// descriptor, now the caller's) to which each authenticated peer is forwarded.
  struct listener {
    std::uint16_t port = 0;
    int local_fd = -1;
  };
  /// Listens for TLS on host:port (port 0: any free one). Once.
  result<listener> serve(const std::string& host, std::uint16_t port);
  /// Connects to host:port over TLS (the node's certificate checked against the CA) and
  /// returns one end of a socketpair (now the caller's) that carries the link in plain.
  /// Blocks the caller until connected, refused or timed out.
  result<int> dial(const std::string& host, std::uint16_t port);

  /// The TLS port serve() bound (0 before).
  std::uint16_t served_port() const noexcept;

  struct impl;

 private:
  explicit tls_tunnel(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
