/// A worker node in this process: an actor system whose node actor hosts the factor owners
/// (and batch ALS blocks) that drivers (`recflow stream --nodes`, cluster_engine) deploy to
/// it over CAF's network layer. `recflow node` is option parsing around this class; a
/// program or a test may host a node the same way.
///
///   auto host = node_host::start({.listen = {"127.0.0.1", 0}, .workers = 2,
///                                 .secret = read_secret_file("node.secret").value()});
///   if (host) std::cout << (*host)->address().name() << "\n";   // the port picked
///   ...                                                          // drivers come and go
///   (*host)->stop();                                            // or let it go out of scope
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// How a node listens and runs, with defaults.
struct node_host_options {
  node_endpoint listen{"127.0.0.1", 4242};  ///< port 0: any free port (see address())
  std::size_t workers = 2;                  ///< actor scheduler threads
  /// One line per event (a driver accepted, refused or gone, a job started, ...); the
  /// default writes "recflow node HOST:PORT: LINE" to standard error.
  std::function<void(const std::string&)> log{};
  /// The cluster protocol version this node claims; 0 is this build's. Another value
  /// makes drivers refuse it (what a test of the refusal needs).
  std::uint32_t protocol = 0;
  /// The shared secret every driver must prove before anything else (see actors/node.hpp);
  /// at least link_auth::min_secret_bytes bytes. Empty only with `insecure`.
  std::string secret{};
  /// Mutual TLS on every link (check_link_tls): only drivers and nodes with a certificate
  /// from `tls.ca` get past the TLS handshake. Alone or with a secret.
  link_tls tls{};
  /// A connection that has not finished its handshake after this time is closed (and
  /// logged with the peer's address): with TLS, the TLS handshake; without, BASP's (its
  /// first whole message).
  std::chrono::milliseconds handshake_timeout{10'000};
  /// The longest message a peer may send (its BASP payload); a longer one closes that
  /// peer's connection, logged, before CAF reads it.
  std::size_t max_message_bytes = std::size_t{1} << 30;
  /// No secret and no TLS: any peer that reaches the port may deploy jobs and stop them.
  /// Must be asked for; the node then logs a warning when it starts.
  bool insecure = false;
  /// Called once, from an actor thread, when the node stops on its own: its driver stopped
  /// it (stop_node_atom, see actors/node.hpp). Not called when stop() stops it. May be empty.
  std::function<void()> on_stopped{};
};

/// "workers must be positive, got 0", "a node needs a shared secret or insecure" and
/// friends; empty when the options are fine.
result<void> validate(const node_host_options& o);

class node_host {
 public:
  /// Starts the actor system and listens (logging a warning first when insecure); fails
  /// if the options are invalid or the
  /// address cannot be bound ("cannot listen on 127.0.0.1:80: ...").
  static result<std::unique_ptr<node_host>> start(node_host_options o);
  /// Stops the node (its jobs end; drivers see it gone) and stops listening.
  ~node_host();
  node_host(const node_host&) = delete;
  node_host& operator=(const node_host&) = delete;

  /// Where it listens, with the port the system picked when asked for port 0.
  const node_endpoint& address() const noexcept;
  /// The protocol version it claims.
  std::uint32_t protocol() const noexcept;
  std::size_t workers() const noexcept;
  /// Writes a line through the node's log (e.g. why the program stops it).
  void log(const std::string& line) const;
  /// Stops the node and stops listening; later calls do nothing.
  void stop();

 private:
  struct impl;
  explicit node_host(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
