/// Helpers for serving tests: a small HTTP client (Boost.Beast, one keep-alive
/// connection) and a child `recflow` process that is always stopped.
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

/// `recflow ARGS` (or `exe ARGS`) as a child process, stdout and stderr into `log`; stopped
/// with SIGTERM (then SIGKILL after 10 s) at scope exit at the latest.
class child_process {
 public:
  child_process(const std::vector<std::string>& args, std::string log,
                std::string exe = RECFLOW_CLI_PATH)
      : log_(std::move(log)) {
    // Everything the child needs is prepared before fork: it only calls async-signal-safe
    // functions (open, dup2, execv, _exit).
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    argv.push_back(exe.data());
    for (auto& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~child_process() { stop(); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The whole log so far.
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  /// Waits (at most `timeout`) for the log to show "http://HOST:PORT" and returns PORT (0 on timeout).
  std::uint16_t wait_for_port(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    static const std::regex re(R"(http://127\.0\.0\.1:([0-9]+))");
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      std::smatch m;
      auto text = output();
      if (std::regex_search(text, m, re))
        return static_cast<std::uint16_t>(std::stoi(m[1]));
      if (exited())
        return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  bool exited() {
    if (status_ >= 0)
      return true;
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      return true;
    }
    return false;
  }
  /// Waits for the process to end on its own (at most `timeout`); its exit status, or -1.
  int wait(std::chrono::seconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!exited() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return status_;
  }
  /// Sends `sig` to the process if it still runs.
  void signal(int sig) {
    if (pid_ > 0 && !exited())
      ::kill(pid_, sig);
  }
  /// SIGTERM, then SIGKILL if it has not ended within 10 s; the exit status.
  int stop() {
    if (pid_ <= 0 || exited())
      return status_;
    ::kill(pid_, SIGTERM);
    if (wait(std::chrono::seconds(10)) < 0) {
      ::kill(pid_, SIGKILL);
      int raw = 0;
      ::waitpid(pid_, &raw, 0);
      status_ = 137;
    }
    return status_;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace recflow::test
