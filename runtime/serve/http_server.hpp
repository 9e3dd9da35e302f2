/// An HTTP/1.1 server (Boost.Beast, keep-alive) in front of a query_service.
///
///   query_service svc;  svc.publish(model, 0);
///   auto server = http_server::start(svc, {.host = "127.0.0.1", .port = 0}).value();
///   std::cout << server->port();   // the port the OS picked
///   server->stop();                // also done by the destructor
///
/// Bodies larger than `max_body` get 413, unparseable requests 400, and the connection
/// is closed after either; a request never throws out of the server, and an exception
/// (out of memory, say) in a connection's handler closes that connection, not the process.
/// `http_options::access` adds a bearer token (401), a Host allow-list (403) and the JSON
/// Content-Type of POSTs (415). Connections are limited in number, per client too, and in
/// time (idle, headers, whole request); when the process runs out of descriptors the
/// server stops accepting for a while (10 ms, doubling to 1 s) instead of spinning.
///
/// With a live_monitor (serve/monitor.hpp) the server also answers GET /metrics, the
/// dashboard (GET / and its assets, /dashboard.json) and GET /events (Server-Sent Events,
/// at most the hub's max_clients at once; more get 503), and counts every request in the
/// monitor's metrics. Without a query_service only those routes exist (`--metrics`).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "recflow/model/error.hpp"
#include "recflow/serve/http_access.hpp"
#include "recflow/serve/monitor.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::serve {

/// Where and how the server listens, with defaults.
struct http_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;              ///< 0: any free port (read it back with port())
  std::size_t threads = 1;             ///< threads running the I/O (and the monitor's routes)
  /// Threads that answer the query service's routes (/predict, /recommend, /similar,
  /// /ratings, /health, /model), so that a fold-in or a top-N scan never holds the I/O
  /// threads; 0: the I/O threads answer them.
  std::size_t query_threads = 1;
  /// Queries waiting for a query thread at most; one more is answered 503 with
  /// Retry-After: 1.
  std::size_t max_queued_queries = 1024;
  std::size_t max_body = 1 << 20;      ///< bytes in a request body
  std::size_t max_connections = 1024;  ///< accepted at once; more are closed at once
  std::size_t max_connections_per_client = 64;  ///< open at once from one address; more are closed
  /// A keep-alive connection that sends no byte of a next request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// A request whose headers are not complete this long after its first byte: closed.
  std::chrono::milliseconds header_timeout{10'000};
  /// A request not read whole (headers and body) this long after its first byte: closed.
  std::chrono::milliseconds request_timeout{30'000};
  http_access access{};  ///< token, Host allow-list, Content-Type (serve/http_access.hpp)
};

result<void> validate(const http_options& o);

/// What a server answers; either may be null (not both). Both must outlive the server.
struct http_routes {
  query_service* queries = nullptr;  ///< /predict, /recommend, /similar, /ratings, /health, /model
  live_monitor* monitor = nullptr;   ///< /metrics, /, /events, /dashboard.json
};

class http_server {
 public:
  /// Binds, listens and starts `o.threads` threads. Fails if the address cannot be bound.
  static result<std::unique_ptr<http_server>> start(query_service& service, const http_options& o = {});
  /// The same for the routes of `routes`.
  static result<std::unique_ptr<http_server>> start(http_routes routes, const http_options& o = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (the OS's choice when asked for port 0).
  std::uint16_t port() const noexcept;
  /// The bound address as "HOST:PORT".
  std::string address() const;
  /// Stops accepting, closes connections and joins the threads. Idempotent.
  void stop();

  /// A `--metrics HOST:PORT` server: only `monitor`'s routes (/metrics, the dashboard and
  /// its events), on `listen` with the rest of `o`; prints "recflow: metrics and dashboard
  /// on http://ADDRESS" on stderr once it listens. A bad address is an invalid_argument
  /// error that names --metrics.
  static result<std::unique_ptr<http_server>> start_metrics(live_monitor& monitor,
                                                            std::string_view listen,
                                                            http_options o = {});

  struct impl;

 private:
  explicit http_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow::serve
