/// A child `recflow` process for tests that run the real binary beside a server, a broker
/// or a second trainer: its output in a log file, stopped at scope exit at the latest.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace recflow::test {

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
