/// Helpers for serving tests: a small HTTP client (Boost.Beast, one keep-alive
/// connection), and (child_process.hpp) a child `recflow` process that is always stopped.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "recflow/model/model.hpp"
#include "child_process.hpp"

namespace recflow::test {

/// Rank 2; users 1, 2 (user 1 rated item 10); items 10..13, 13 never trained.
inline std::shared_ptr<const factor_model> tiny_model() {
  factor_model::parts p;
  p.rank = 2;
  p.mu = 3.0;
  p.mu_count = 10;
  p.users.insert(1);
  p.users.insert(2);
  for (std::int64_t i : {10, 11, 12, 13})
    p.items.insert(i);
  p.user_bias = {0.1, -0.1};
  p.item_bias = {0.5, -0.2, 0.3, 0.9};
  p.U = {1.0, 0.0, 0.0, 1.0};
  p.P = {1.0, 0.0, 2.0, 0.1, 0.0, 1.0, 1.0, 0.0};
  p.user_count = {3, 2};
  p.item_count = {100, 50, 20, 0};
  p.rated.offsets = {0, 1, 1};
  p.rated.items = {0};
  auto m = factor_model::from_parts(std::move(p));
  REQUIRE(m);
  return std::make_shared<const factor_model>(std::move(*m));
}

/// A status and a body.
struct http_reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< by lower-case name
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  /// The value of header `name` (lower case), or "".
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One keep-alive connection to 127.0.0.1:port.
class http_client {
 public:
  explicit http_client(std::uint16_t port) : socket_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    socket_.connect(ep);
  }
  http_reply get(const std::string& target) { return send(boost::beast::http::verb::get, target, ""); }
  http_reply post(const std::string& target, const std::string& body) {
    return send(boost::beast::http::verb::post, target, body);
  }
  /// Sends every later request with header `name: value` (replacing an earlier one).
  void set_header(const std::string& name, const std::string& value) { headers_[name] = value; }
  /// A POST's body is JSON (Content-Type: application/json) unless `set_header` says otherwise.
  http_reply send(boost::beast::http::verb verb, const std::string& target, const std::string& body) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (verb == http::verb::post)
      req.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers_)
      req.set(name, value);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    http_reply out{static_cast<int>(res.result_int()), res.body(), {}};
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    return out;
  }
  /// Writes raw bytes and reads whatever comes back until the server closes.
  std::string raw(const std::string& bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes));
    std::string out;
    boost::beast::error_code ec;
    char buf[4096];
    for (;;) {
      auto n = socket_.read_some(boost::asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec)
        break;
    }
    return out;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::map<std::string, std::string> headers_;
};

/// A command's --json summary: the last line of `out` that parses as a JSON object (null
/// when there is none).
inline nlohmann::json json_summary(const std::string& out) {
  auto end = out.size();
  while (end > 0) {
    auto start = out.rfind('\n', end - 1);
    auto from = start == std::string::npos ? 0 : start + 1;
    auto line = out.substr(from, end - from);
    if (!line.empty() && line.front() == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded())
        return j;
    }
    if (start == std::string::npos)
      break;
    end = start;
  }
  return nlohmann::json();
}

/// What a client saw following a stream served with --serve until training ended (at most
/// about 30 s): whether GET /recommend?user=1&n=5 answered five items while the stream
/// still trained, whether the model's version never went back, and the last version.
struct followed_stream {
  bool answered_while_training = false;
  bool monotonic = true;
  std::uint64_t last = 0;
};
inline followed_stream follow_training(http_client& c) {
  followed_stream f;
  for (int k = 0; k < 3000; ++k) {
    auto h = c.get("/health").json();
    REQUIRE(h.is_object());
    auto v = h["version"].get<std::uint64_t>();
    f.monotonic = f.monotonic && v >= f.last;
    f.last = v;
    if (!h["training"].get<bool>())
      break;
    if (v > 0) {
      auto r = c.get("/recommend?user=1&n=5");
      if (r.status == 200 && r.json()["items"].size() == 5
          && c.get("/health").json()["training"] == true)
        f.answered_while_training = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f;
}

/// A POST /ratings body: one rating (4) of `item` by `user`.
inline std::string post_of(std::int64_t user, std::int64_t item = 10) {
  return R"({"user": )" + std::to_string(user) + R"(, "ratings": [{"item": )" + std::to_string(item)
         + R"(, "rating": 4}]})";
}

}  // namespace recflow::test
