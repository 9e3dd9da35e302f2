#include "recflow/serve/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
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

namespace {

using clock_type = std::chrono::steady_clock;

/// What every connection of a server shares: routes, options, and the connections open
/// in all and per client address.
struct server_state {
  http_routes routes;
  http_options opts;
  const void* owner = nullptr;  ///< the server, as the event hub knows it
  asio::thread_pool* queries = nullptr;  ///< the query threads (null: the I/O threads answer)
  std::atomic<std::size_t> queued{0};    ///< queries given to the query threads, not answered
  std::atomic<std::size_t> open{0};
  std::mutex clients_mutex;
  std::unordered_map<std::string, std::size_t> per_client;

  server_state(http_routes r, http_options o, const void* who)
      : routes(r), opts(std::move(o)), owner(who) {}

  /// Counts a connection from `client`; false (nothing counted) when a limit is reached.
  bool admit(const std::string& client) {
    if (open.fetch_add(1) >= opts.max_connections) {
      open.fetch_sub(1);
      return false;
    }
    std::lock_guard lock(clients_mutex);
    auto& n = per_client[client];
    if (n >= opts.max_connections_per_client) {
      if (n == 0)
        per_client.erase(client);
      open.fetch_sub(1);
      return false;
    }
    ++n;
    return true;
  }
  void release(const std::string& client) noexcept {
    {
      std::lock_guard lock(clients_mutex);
      if (auto it = per_client.find(client); it != per_client.end() && --it->second == 0)
        per_client.erase(it);
    }
    open.fetch_sub(1);
  }
};

/// One connection: read a request, answer it, repeat while the client keeps it alive. A
/// GET /events turns it into a Server-Sent Events stream until either side closes.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, server_state& state, std::string client)
      : stream_(std::move(s)), st_(state), routes_(state.routes), max_body_(state.opts.max_body),
        client_(std::move(client)) {
    beast::error_code ec;
    auto local = stream_.socket().local_endpoint(ec);
    if (!ec)
      local_address_ = local.address().to_string();
  }
  ~session() {
    if (events_)
      routes_.monitor->events().unsubscribe(events_.get());
    st_.release(client_);
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  /// Waits (at most the idle timeout) for the first byte of the next request.
  void read() {
    parser_.emplace();
    parser_->body_limit(max_body_);
    if (buffer_.size() > 0) {  // pipelined: the next request has begun
      read_header();
      return;
    }
    stream_.expires_after(st_.opts.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec)
                                self->on_read(ec);
                              else
                                self->read_header();
                            });
  }

  /// The headers within the header timeout, the whole request within the request timeout,
  /// both from the request's first byte.
  void read_header() {
    auto now = clock_type::now();
    request_deadline_ = now + st_.opts.request_timeout;
    stream_.expires_at(std::min(now + st_.opts.header_timeout, request_deadline_));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec)
                                self->on_read(ec);
                              else
                                self->read_body();
                            });
  }

  void read_body() {
    stream_.expires_at(request_deadline_);
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
    try {
      answer_request();
    } catch (...) {  // out of memory, say: this connection ends, the server goes on
      beast::error_code ignored;
      stream_.socket().close(ignored);
    }
  }

  static std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

  void answer_request() {
    const auto& req = parser_->get();
    auto t0 = clock_type::now();
    std::string_view method = view(req.method_string());
    std::string_view target = view(req.target());
    auto path = target.substr(0, target.find('?'));
    std::optional<http_reply> a;
    int retry_after = 0;
    auto refused = check_access(st_.opts.access,
                                {.method = method,
                                 .host = view(req[http::field::host]),
                                 .authorization = view(req[http::field::authorization]),
                                 .content_type = view(req[http::field::content_type])},
                                st_.opts.host, local_address_);
    if (refused) {
      std::string escaped;
      for (char c : refused->message)
        if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20)
          escaped += c;
      a = http_reply{refused->status, "application/json", "{\"error\":\"" + escaped + "\"}\n"};
    } else if (routes_.monitor && path == "/events" && method == "GET") {
      start_events();
      return;
    }
    if (!a && routes_.monitor)
      a = routes_.monitor->handle(method, path);
    if (!a && routes_.queries && st_.queries) {
      if (queue_query(std::string(method), std::string(target), t0))
        return;  // answered by reply(), on this connection's strand
      a = http_reply{503, "application/json",
                     "{\"error\":\"too many queries wait for a query thread\"}\n"};
      retry_after = 1;
    }
    if (!a && routes_.queries) {
      auto q = routes_.queries->handle(method, target, req.body());
      retry_after = q.retry_after;
      a = http_reply{q.status, "application/json", std::move(q.body) + '\n'};
    }
    if (!a)
      a = http_reply{404, "application/json",
                     "{\"error\":\"no route (GET /, /metrics, /events, /dashboard.json)\"}\n"};
    reply(std::move(*a), retry_after, t0);
  }

  /// Gives the request to the query threads, which answer it and post the answer back to
  /// this connection's strand (the request stays in parser_: nothing reads until the
  /// answer is written). False, nothing queued, when max_queued_queries wait already.
  bool queue_query(std::string method, std::string target, clock_type::time_point t0) {
    if (st_.queued.fetch_add(1) >= st_.opts.max_queued_queries) {
      st_.queued.fetch_sub(1);
      return false;
    }
    asio::post(*st_.queries, [self = shared_from_this(), method = std::move(method),
                              target = std::move(target), t0] {
      answer q;
      try {
        q = self->routes_.queries->handle(method, target, self->parser_->get().body());
      } catch (...) {  // handle() throws nothing but a failed allocation
        q = answer{500, "{\"error\":\"the server ran out of memory\"}"};
      }
      self->st_.queued.fetch_sub(1);
      asio::post(self->stream_.get_executor(), [self, q = std::move(q), t0]() mutable {
        self->reply(http_reply{q.status, "application/json", std::move(q.body) + '\n'},
                    q.retry_after, t0);
      });
    });
    return true;
  }

  /// Writes `a` as the answer to the request in parser_, and records it.
  void reply(http_reply a, int retry_after, clock_type::time_point t0) {
    const auto& req = parser_->get();
    std::string_view target = view(req.target());
    auto path = target.substr(0, target.find('?'));
    if (routes_.monitor)
      routes_.monitor->record_request(live_monitor::route_label(path), a.status,
                                      std::chrono::duration<double>(clock_type::now() - t0).count());
    auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(a.status), req.version());
    res->set(http::field::server, "recflow");
    res->set(http::field::content_type, a.content_type);
    res->set(http::field::cache_control, a.cacheable ? "max-age=3600" : "no-store");
    if (a.status == 401)
      res->set(http::field::www_authenticate, "Bearer realm=\"recflow\"");
    if (retry_after > 0)
      res->set(http::field::retry_after, std::to_string(retry_after));
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head)
      res->body() = std::move(a.body);
    res->prepare_payload();
    write(std::move(res), !req.keep_alive());
  }

  /// Answers GET /events: the headers, then every event the hub queues for this client.
  /// Answered as HTTP/1.1 whatever the request's version: the body ends when the
  /// connection closes.
  void start_events() {
    auto self = shared_from_this();
    auto& hub = routes_.monitor->events();
    events_ = hub.subscribe(st_.owner, [weak = weak_from_this(), ex = stream_.get_executor()] {
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
  server_state& st_;
  http_routes routes_;
  std::size_t max_body_;
  std::string client_;         ///< the peer's address (for the per-client limit)
  std::string local_address_;  ///< the address the connection arrived on (Host check)
  clock_type::time_point request_deadline_{};
  std::shared_ptr<event_queue> events_;
  std::array<char, 256> scratch_{};
};

}  // namespace

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
        std::make_shared<session>(std::move(s), state, std::move(client))->run();
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
