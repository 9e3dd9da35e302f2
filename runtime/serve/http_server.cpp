#include "recflow/serve/http_server.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "recflow/serve/request.hpp"

namespace recflow::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

result<void> validate(const http_options& o) {
  if (o.threads == 0)
    return error{errc::invalid_argument, "server threads must be positive, got 0"};
  if (o.max_body == 0)
    return error{errc::invalid_argument, "max body must be positive, got 0"};
  if (o.max_connections == 0)
    return error{errc::invalid_argument, "max connections must be positive, got 0"};
  return {};
}

namespace {

using clock_type = std::chrono::steady_clock;

/// One connection: read a request, answer it, repeat while the client keeps it alive. A
/// GET /events turns it into a Server-Sent Events stream until either side closes.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, http_routes routes, std::size_t max_body, std::atomic<std::size_t>& open,
          const void* owner)
      : stream_(std::move(s)), routes_(routes), max_body_(max_body), open_(open), owner_(owner) {}
  ~session() {
    if (events_)
      routes_.monitor->events().unsubscribe(events_.get());
    open_.fetch_sub(1);
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(max_body_);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout
        || ec == asio::error::operation_aborted || ec == asio::error::connection_reset
        || ec == asio::error::eof) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      send_error(http::status::payload_too_large,
                 "body larger than " + std::to_string(max_body_) + " bytes");
      return;
    }
    if (ec) {
      send_error(http::status::bad_request, "malformed HTTP request: " + ec.message());
      return;
    }
    const auto& req = parser_->get();
    auto t0 = clock_type::now();
    std::string_view method(req.method_string().data(), req.method_string().size());
    std::string_view target(req.target().data(), req.target().size());
    auto path = target.substr(0, target.find('?'));
    if (routes_.monitor && path == "/events" && method == "GET") {
      start_events();
      return;
    }
    std::optional<http_reply> a;
    if (routes_.monitor)
      a = routes_.monitor->handle(method, path);
    if (!a && routes_.queries) {
      auto q = routes_.queries->handle(method, target, req.body());
      a = http_reply{q.status, "application/json", std::move(q.body) + '\n'};
    }
    if (!a)
      a = http_reply{404, "application/json",
                     "{\"error\":\"no route (GET /, /metrics, /events, /dashboard.json)\"}\n"};
    if (routes_.monitor)
      routes_.monitor->record_request(live_monitor::route_label(path), a->status,
                                      std::chrono::duration<double>(clock_type::now() - t0).count());
    auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(a->status), req.version());
    res->set(http::field::server, "recflow");
    res->set(http::field::content_type, a->content_type);
    res->set(http::field::cache_control, a->cacheable ? "max-age=3600" : "no-store");
    res->keep_alive(req.keep_alive());
    if (method != "HEAD")
      res->body() = std::move(a->body);
    res->prepare_payload();
    write(std::move(res), !req.keep_alive());
  }

  /// Answers GET /events: the headers, then every event the hub queues for this client.
  /// Answered as HTTP/1.1 whatever the request's version: the body ends when the
  /// connection closes.
  void start_events() {
    auto self = shared_from_this();
    auto& hub = routes_.monitor->events();
    events_ = hub.subscribe(owner_, [weak = weak_from_this(), ex = stream_.get_executor()] {
      asio::post(ex, [weak] {
        if (auto s = weak.lock())
          s->pump();
      });
    });
    routes_.monitor->record_request("/events", events_ ? 200 : 503, 0.0);
    if (!events_) {
      send_error(http::status::service_unavailable, "too many /events clients");
      return;
    }
    auto head = std::make_shared<std::string>(
      "HTTP/1.1 200 OK\r\nServer: recflow\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-store\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n"
      "retry: 2000\n\n");
    stream_.expires_after(std::chrono::seconds(30));
    asio::async_write(stream_, asio::buffer(*head), [self, head](beast::error_code ec, std::size_t) {
      if (ec) {
        self->close();
        return;
      }
      self->watch_close();
      self->pump();
    });
  }

  /// Reads (and ignores) what an events client sends, to notice at once when it closes.
  void watch_close() {
    stream_.socket().async_read_some(asio::buffer(scratch_),
                                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                       if (ec)
                                         self->close();
                                       else
                                         self->watch_close();
                                     });
  }

  /// Writes what the client's queue holds, then again until it is empty. A client that
  /// does not take a write within 30 s is dropped.
  void pump() {
    auto text = std::make_shared<std::string>(events_->take());
    if (text->empty())
      return;
    stream_.expires_after(std::chrono::seconds(30));
    asio::async_write(stream_, asio::buffer(*text),
                      [self = shared_from_this(), text](beast::error_code ec, std::size_t) {
                        if (ec)
                          self->close();
                        else
                          self->pump();
                      });
  }

  void send_error(http::status status, const std::string& message) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "recflow");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    std::string escaped;
    for (char c : message)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20)
        escaped += c;
    res->body() = "{\"error\":\"" + escaped + "\"}\n";
    res->prepare_payload();
    write(std::move(res), true);
  }

  void write(std::shared_ptr<http::response<http::string_body>> res, bool close_after) {
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close_after](beast::error_code ec, std::size_t) {
                        if (ec || close_after)
                          self->close();
                        else
                          self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (events_)  // an events stream ends here: nothing more is read from it
      stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http_routes routes_;
  std::size_t max_body_;
  std::atomic<std::size_t>& open_;
  const void* owner_;
  std::shared_ptr<event_queue> events_;
  std::array<char, 256> scratch_{};
};

}  // namespace

struct http_server::impl {
  http_routes routes;
  http_options opts;
  std::atomic<std::size_t> open{0};  // before ioc: sessions destroyed with it decrement it
  std::atomic<bool> stopped{false};
  asio::io_context ioc;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  std::vector<std::thread> threads;

  impl(http_routes r, http_options o) : routes(r), opts(std::move(o)), ioc(int(opts.threads)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open())
        return;
      if (!ec) {
        if (open.fetch_add(1) >= opts.max_connections) {
          open.fetch_sub(1);
          beast::error_code ignored;
          s.close(ignored);
        } else {
          std::make_shared<session>(std::move(s), routes, opts.max_body, open, this)->run();
        }
      }
      accept();
    });
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
    p->threads.emplace_back([raw = p.get()] { raw->ioc.run(); });
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
