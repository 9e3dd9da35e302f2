// Fuzzes `recflow serve`'s HTTP server through its parser and its connections: any bytes
// written on a real connection to a server on the loopback (the tiny model, a bearer token
// for writes, the Host check, small limits and timeouts). Whatever the bytes, the server
// must answer with well-formed HTTP responses, each with a status in 200..599, or close the
// connection, within the request timeout; and it must go on serving: every 64th input is
// followed by a plain GET /health on a new connection, which must get 200.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "fuzz_util.hpp"
#include "tiny_model.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"

using namespace recflow;
namespace http = boost::beast::http;

namespace {

struct server_fixture {
  serve::query_service service;
  std::unique_ptr<serve::http_server> server;
  server_fixture() : service(options()) {
    service.publish(fuzz::tiny_model(), 1, 20);
    serve::http_options o;
    o.max_body = 4096;
    o.idle_timeout = std::chrono::milliseconds(2000);
    o.header_timeout = std::chrono::milliseconds(2000);
    o.request_timeout = std::chrono::milliseconds(2000);
    o.access.token = "fuzz-token-0123456789";
    o.access.check_host = true;
    auto started = serve::http_server::start(service, o);
    if (!started)
      fuzz::fail("the HTTP server does not start");
    server = std::move(*started);
  }
  static serve::service_options options() {
    serve::service_options o;
    o.max_n = 50;
    o.max_ratings_per_post = 100;
    return o;
  }
};

/// Writes `request` on a new connection, half-closes it and reads until the server closes;
/// fails if the server neither answers nor closes within 10 s.
std::string exchange(std::uint16_t port, std::string_view request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fuzz::fail("cannot open a socket");
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    fuzz::fail("cannot connect to the HTTP server");
  // The server may close early (after a 400 or 413) while bytes are still unsent: a
  // failed send is not a finding, the answer read below is what counts.
  for (std::size_t at = 0; at < request.size();) {
    auto n = ::send(fd, request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    at += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[4096];
  while (true) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        fuzz::fail("the server neither answered nor closed within 10 s");
      break;  // reset: the server closed with unread input
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}

/// Every response in `bytes`, one after another, must have a whole header with a status in
/// 200..599, and its body (Content-Length bytes) must follow; an answer to HEAD has none,
/// which shows as the next response (or the end) right after the header. Returns how many
/// responses there were.
std::size_t check_responses(std::string_view bytes) {
  std::size_t count = 0;
  while (!bytes.empty()) {
    http::response_parser<http::empty_body> parser;
    parser.eager(false);  // stop after the header
    boost::beast::error_code ec;
    auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_header_done())
      fuzz::fail("the server's answer does not start with a whole HTTP response header");
    auto status = parser.get().result_int();
    if (status < 200 || status > 599)
      fuzz::fail("an answer's status is outside 200..599");
    auto length = parser.content_length();
    if (!length)
      fuzz::fail("an answer has no Content-Length");
    bytes.remove_prefix(used);
    if (!bytes.empty() && !bytes.starts_with("HTTP/1.")) {
      if (bytes.size() < *length)
        fuzz::fail("an answer's body is shorter than its Content-Length");
      bytes.remove_prefix(*length);
    }
    ++count;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static server_fixture fixture;
  static std::uint64_t inputs = 0;
  const auto port = fixture.server->port();
  check_responses(exchange(port, {reinterpret_cast<const char*>(data), size}));
  if (++inputs % 64 == 0) {
    auto health = exchange(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    if (check_responses(health) != 1 || !health.starts_with("HTTP/1.1 200"))
      fuzz::fail("the server stopped serving /health after an input");
  }
  return 0;
}
