/// A real redis-server for tests: started on 127.0.0.1 on a free port with its own temp
/// folder and no persistence (or an append-only file, to be killed and restarted with its
/// data), stopped (and the folder removed) by the destructor, also when a test fails. Tests are skipped when redis-server is not installed, and fail in CI
/// (tools/dev.sh installs it; tests/skip_test_util.hpp).
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "recflow/sources/redis_client.hpp"
#include "skip_test_util.hpp"

namespace recflow::test {

/// The path of the redis-server on PATH, or empty.
inline std::string find_redis_server() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  for (std::size_t from = 0; from <= dirs.size();) {
    auto to = std::min(dirs.find(':', from), dirs.size());
    auto exe = (to > from ? dirs.substr(from, to - from) : std::string(".")) + "/redis-server";
    if (::access(exe.c_str(), X_OK) == 0)
      return exe;
    from = to + 1;
  }
  return {};
}

/// A port that was free a moment ago (bind port 0 and read it back).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// How a test server runs besides the defaults.
struct redis_server_options {
  bool persistent = false;  ///< appendonly yes, appendfsync always: restart() keeps the data
  std::vector<std::string> args{};  ///< more arguments, e.g. {"--user", "alice on >pw ~* +@all"}
};

class redis_server {
 public:
  /// Starts a server (retrying on another port if one was taken meanwhile); null when
  /// redis-server is not installed.
  static std::unique_ptr<redis_server> start(redis_server_options o = {}) {
    auto exe = find_redis_server();
    if (exe.empty())
      return nullptr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto s = std::unique_ptr<redis_server>(new redis_server(exe, free_port(), std::move(o)));
      if (s->wait_ready())
        return s;
    }
    FAIL("redis-server did not start");
    return nullptr;
  }
  ~redis_server() { stop(); }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  int port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  host_port endpoint() const { return {"127.0.0.1", port_}; }

  void stop() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// SIGKILL, keeping the folder (and the append-only file of a persistent server).
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  /// Starts the server again on the same port and folder (after kill()); false when it
  /// does not answer within 10 s.
  bool restart() {
    kill();
    launch();
    return wait_ready();
  }

 private:
  redis_server(std::string exe, int port, redis_server_options o)
      : exe_(std::move(exe)), port_(port), o_(std::move(o)) {
    dir_ = std::filesystem::temp_directory_path()
           / ("recflow-redis-" + std::to_string(::getpid()) + "-" + std::to_string(port));
    std::filesystem::create_directories(dir_);
    launch();
  }

  void launch() {
    const auto& exe = exe_;
    auto port = port_;
    std::vector<std::string> args{exe, "--port", std::to_string(port), "--bind", "127.0.0.1",
                                  "--dir", dir_.string(), "--save", "", "--logfile", "",
                                  "--loglevel", "warning"};
    if (o_.persistent)
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    else
      args.insert(args.end(), {"--appendonly", "no"});
    args.insert(args.end(), o_.args.begin(), o_.args.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (int null = ::open("/dev/null", O_WRONLY); null >= 0) {  // quiet: its log is not ours
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
      }
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }

  bool wait_ready() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: the port was taken
        pid_ = -1;
        return false;
      }
      // Up: PING answers, or asks for a login (a server whose default user is off);
      // not while it loads its data.
      if (auto c = redis_client::connect(endpoint(), std::chrono::milliseconds(200))) {
        auto pong = c->command({"PING"});
        if (pong || pong.err().message.find("NOAUTH") != std::string::npos)
          return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    return false;
  }

  std::string exe_;
  int port_ = 0;
  redis_server_options o_;
  pid_t pid_ = -1;
  std::filesystem::path dir_;
};

/// Starts a server, or skips the test case (fails it in CI) and returns null, so that the
/// test returns at once.
inline std::unique_ptr<redis_server> redis_or_skip(redis_server_options o = {}) {
  auto s = redis_server::start(std::move(o));
  if (!s)
    skip_without("redis-server");
  return s;
}

}  // namespace recflow::test
