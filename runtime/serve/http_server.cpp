#include "recflow/serve/http_server.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

/// One connection: read a request, answer it, repeat while the client keeps it alive.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket s, query_service& svc, std::size_t max_body, std::atomic<std::size_t>& open)
      : stream_(std::move(s)), svc_(svc), max_body_(max_body), open_(open) {}
  ~session() { open_.fetch_sub(1); }

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
    auto a = svc_.handle(std::string_view(req.method_string().data(), req.method_string().size()),
                         std::string_view(req.target().data(), req.target().size()), req.body());
    auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(a.status), req.version());
    res->set(http::field::server, "recflow");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(req.keep_alive());
    res->body() = std::move(a.body);
    res->body() += '\n';
    res->prepare_payload();
    write(std::move(res), !req.keep_alive());
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
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  query_service& svc_;
  std::size_t max_body_;
  std::atomic<std::size_t>& open_;
};

}  // namespace

struct http_server::impl {
  query_service& svc;
  http_options opts;
  std::atomic<std::size_t> open{0};  // before ioc: sessions destroyed with it decrement it
  std::atomic<bool> stopped{false};
  asio::io_context ioc;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  std::vector<std::thread> threads;

  impl(query_service& s, http_options o) : svc(s), opts(std::move(o)), ioc(int(opts.threads)) {}

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
          std::make_shared<session>(std::move(s), svc, opts.max_body, open)->run();
        }
      }
      accept();
    });
  }
};

http_server::http_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_server::~http_server() { stop(); }

result<std::unique_ptr<http_server>> http_server::start(query_service& service, const http_options& o) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto p = std::make_unique<impl>(service, o);
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
  beast::error_code ec;
  impl_->acceptor.close(ec);  // no thread runs the context any more
}

}  // namespace recflow::serve
