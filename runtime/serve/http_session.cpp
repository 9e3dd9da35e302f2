#include "recflow/serve/http_session.hpp"

#include <array>
#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "recflow/serve/request.hpp"

namespace recflow::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using clock_type = std::chrono::steady_clock;

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
    if (!a && st_.queries) {  // set only with a query service
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

void start_session(tcp::socket s, server_state& state, std::string client) {
  std::make_shared<session>(std::move(s), state, std::move(client))->run();
}

}  // namespace recflow::serve
