#include "recflow/serve/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/error.hpp>

#include "recflow/serve/http_session.hpp"
#include "recflow/serve/request.hpp"

namespace recflow::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

result<void> validate(const http_options& o) {
  if (o.threads == 0)
    return error{errc::invalid_argument, "server threads must be positive, got 0"};
  if (o.max_body == 0)
    return error{errc::invalid_argument, "max body must be positive, got 0"};
  if (o.query_threads > 0 && o.max_queued_queries == 0)
    return error{errc::invalid_argument, "max queued queries must be positive, got 0"};
  if (o.max_connections == 0)
    return error{errc::invalid_argument, "max connections must be positive, got 0"};
  if (o.max_connections_per_client == 0)
    return error{errc::invalid_argument, "max connections per client must be positive, got 0"};
  for (auto [name, t] : {std::pair{"idle", o.idle_timeout}, std::pair{"header", o.header_timeout},
                         std::pair{"request", o.request_timeout}})
    if (t.count() <= 0)
      return error{errc::invalid_argument, std::string("the HTTP ") + name
                                             + " timeout must be positive, got "
                                             + std::to_string(t.count()) + " ms"};
  return {};
}

struct http_server::impl {
  server_state state;  // before ioc: sessions destroyed with it release their counts
  http_routes& routes = state.routes;
  const http_options& opts = state.opts;
  std::atomic<bool> stopped{false};
  asio::io_context ioc;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::steady_timer backoff{acceptor.get_executor()};
  std::chrono::milliseconds backoff_delay{0};
  std::vector<std::thread> threads;
  /// After ioc: joined (stop) and destroyed before the connections its tasks hold.
  std::optional<asio::thread_pool> queries;

  impl(http_routes r, http_options o) : state(r, std::move(o), this), ioc(int(state.opts.threads)) {
    if (state.routes.queries && state.opts.query_threads > 0) {
      queries.emplace(state.opts.query_threads);
      state.queries = &*queries;
    }
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open())
        return;
      if (ec) {
        // Out of descriptors (EMFILE, ENFILE), or another failure: accepting again at once
        // would fail again at once. Wait, 10 ms doubling to 1 s while it lasts.
        backoff_delay = std::clamp(backoff_delay * 2, std::chrono::milliseconds(10),
                                   std::chrono::milliseconds(1000));
        if (backoff_delay == std::chrono::milliseconds(10))
          std::cerr << "recflow: HTTP accept failed (" << ec.message()
                    << "); accepting again after a pause" << std::endl;
        backoff.expires_after(backoff_delay);
        backoff.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor.is_open())
            accept();
        });
        return;
      }
      backoff_delay = std::chrono::milliseconds(0);
      beast::error_code peer_ec;
      auto peer = s.remote_endpoint(peer_ec);
      auto client = peer_ec ? std::string() : peer.address().to_string();
      if (!state.admit(client)) {
        beast::error_code ignored;
        s.close(ignored);
      } else {
        start_session(std::move(s), state, std::move(client));
      }
      accept();
    });
  }

  /// One I/O thread: an exception out of a handler ends that handler (and its connection,
  /// whose last reference it held), not the thread or the process.
  void run_thread() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (...) {
        try {
          std::cerr << "recflow: an HTTP connection failed (an exception); serving on" << std::endl;
        } catch (...) {
        }
      }
    }
  }
};

http_server::http_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_server::~http_server() { stop(); }

result<std::unique_ptr<http_server>> http_server::start(query_service& service, const http_options& o) {
  return start(http_routes{.queries = &service}, o);
}

result<std::unique_ptr<http_server>> http_server::start(http_routes routes, const http_options& o) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (!routes.queries && !routes.monitor)
    return error{errc::invalid_argument, "a server needs a query service or a monitor"};
  auto p = std::make_unique<impl>(routes, o);
  beast::error_code ec;
  tcp::resolver resolver(p->ioc);
  auto found = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec || found.empty())
    return error{errc::io, "cannot resolve " + o.host + ": " + ec.message()};
  auto ep = found.begin()->endpoint();
  auto where = o.host + ":" + std::to_string(o.port);
  p->acceptor.open(ep.protocol(), ec);
  if (!ec)
    p->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    p->acceptor.bind(ep, ec);
  if (!ec)
    p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error{errc::io, "cannot listen on " + where + ": " + ec.message()};
  p->accept();
  for (std::size_t t = 0; t < o.threads; ++t)
    p->threads.emplace_back([raw = p.get()] { raw->run_thread(); });
  return std::unique_ptr<http_server>(new http_server(std::move(p)));
}

std::uint16_t http_server::port() const noexcept {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string http_server::address() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void http_server::stop() {
  if (!impl_ || impl_->stopped.exchange(true))
    return;
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  // Queries under way finish; their answers are posted to the stopped context and
  // destroyed with it.
  if (impl_->queries)
    impl_->queries->join();
  // No connection subscribes any more (no thread runs the context); from here on no event
  // is posted to this server's connections, whose context goes with impl_. (Posting to the
  // stopped context until then is harmless: the handlers are destroyed with it.)
  if (impl_->routes.monitor)
    impl_->routes.monitor->events().detach(impl_.get());
  beast::error_code ec;
  impl_->acceptor.close(ec);  // no thread runs the context any more
}

result<std::unique_ptr<http_server>> http_server::start_metrics(live_monitor& monitor,
                                                               std::string_view listen,
                                                               http_options o) {
  auto where = parse_listen(listen);
  if (!where)
    return error{errc::invalid_argument, "--metrics: " + where.err().message};
  o.host = where->host;
  o.port = where->port;
  auto server = start(http_routes{.monitor = &monitor}, o);
  if (server)
    std::cerr << "recflow: metrics and dashboard on http://" << (*server)->address() << std::endl;
  return server;
}

}  // namespace recflow::serve
