/// A `recflow node` child process for multi-node tests: started on 127.0.0.1 with a free
/// port (port 0, read back from its first line) and the tests' shared secret
/// (node_secret_file), always stopped by the destructor, and killed by the kernel if the
/// test process dies (PR_SET_PDEATHSIG).
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "skip_test_util.hpp"

namespace recflow::test {

/// The shared secret of the test nodes, in a file of mode 0600 in the temporary folder
/// (one per test process, removed at exit).
class secret_file {
 public:
  static const secret_file& get() {
    static secret_file f;
    return f;
  }
  const std::string& path() const noexcept { return path_; }
  const std::string& value() const noexcept { return value_; }
  ~secret_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

 private:
  secret_file() {
    path_ = (std::filesystem::temp_directory_path()
             / ("recflow-test-secret-" + std::to_string(::getpid())))
              .string();
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string text = value_ + "\n";
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  std::string path_;
  std::string value_ = "recflow test secret: not for real clusters";
};

inline const std::string& node_secret() { return secret_file::get().value(); }
inline const std::string& node_secret_file() { return secret_file::get().path(); }

/// How a test node's links are secured: the arguments after `recflow node --listen ...`.
inline std::vector<std::string> with_secret() { return {"--secret-file", node_secret_file()}; }
inline std::vector<std::string> insecure() { return {"--insecure"}; }

/// Certificates for mutual TLS on node links, made once per test process by
/// tools/tls-certs.sh (the script users run) in a temporary folder, removed at exit: a CA
/// that signed "node" and "driver", and a stranger's CA that signed its own "driver" (a
/// certificate the nodes do not trust).
class tls_certs {
 public:
  /// The certificates, or null when the openssl command is missing (the caller skips:
  /// skip_without("openssl")).
  static const tls_certs* get() {
    static const bool have = std::system("command -v openssl >/dev/null 2>&1") == 0;
    if (!have)
      return nullptr;
    static tls_certs certs;
    return &certs;
  }
  std::string cert(const std::string& name, bool stranger = false) const {
    return dir(stranger) + "/" + name + ".pem";
  }
  std::string key(const std::string& name, bool stranger = false) const {
    return dir(stranger) + "/" + name + "-key.pem";
  }
  std::string ca(bool stranger = false) const { return dir(stranger) + "/ca.pem"; }
  /// A TLS node's arguments after `recflow node --listen ...`.
  std::vector<std::string> node_args() const {
    return {"--tls-cert", cert("node"), "--tls-key", key("node"), "--tls-ca", ca()};
  }
  /// A driver's TLS options on a command line ("--tls-cert ... --tls-ca ...").
  std::string driver_args(bool stranger = false) const {
    return "--tls-cert " + cert("driver", stranger) + " --tls-key " + key("driver", stranger)
           + " --tls-ca " + ca(stranger);
  }
  /// The driver's files as link_tls, e.g. files<link_tls>("driver").
  template <class Tls>
  Tls files(const std::string& name, bool stranger = false) const {
    return Tls{cert(name, stranger), key(name, stranger), ca(stranger)};
  }
  ~tls_certs() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

 private:
  tls_certs() {
    root_ = (std::filesystem::temp_directory_path()
             / ("recflow-test-tls-" + std::to_string(::getpid())))
              .string();
    const std::string script = std::string(RECFLOW_SOURCE_DIR) + "/tools/tls-certs.sh";
    for (bool stranger : {false, true}) {
      auto cmd = script + " " + dir(stranger) + " node driver >/dev/null";
      INFO(cmd);
      REQUIRE(std::system(cmd.c_str()) == 0);
    }
  }
  std::string dir(bool stranger) const { return root_ + (stranger ? "/stranger" : "/ours"); }
  std::string root_;
};

class node_process {
 public:
  explicit node_process(std::vector<std::string> link = with_secret()) {
    log_ = (std::filesystem::temp_directory_path()
            / ("recflow-node-" + std::to_string(::getpid()) + "-"
               + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log"))
             .string();
    int out[2];
    REQUIRE(::pipe(out) == 0);
    node_secret_file();  // written before the fork (the child only reads it)
    // The arguments are built before the fork: the child of a threaded process only execs.
    std::vector<std::string> args{RECFLOW_CLI_PATH, "node", "--listen", "127.0.0.1:0",
                                  "--workers", "1"};
    args.insert(args.end(), link.begin(), link.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out[1], STDOUT_FILENO);
      int err = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0)
        ::dup2(err, STDERR_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execv(RECFLOW_CLI_PATH, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    // "recflow node listening on 127.0.0.1:PORT (...)"
    auto line = read_line(std::chrono::seconds(20));
    auto at = line.find("127.0.0.1:");
    INFO("node said: " << line << "\nlog: " << log());
    REQUIRE(at != std::string::npos);
    port_ = static_cast<std::uint16_t>(std::stoul(line.substr(at + 10)));
    REQUIRE(port_ != 0);
  }
  ~node_process() {
    stop();
    if (out_ >= 0)
      ::close(out_);
    std::error_code ec;
    std::filesystem::remove(log_, ec);
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  /// The node's resident memory in MB (VmRSS), 0 when it is not running.
  long rss_mb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmRSS:", 0) == 0)
        return std::stol(line.substr(6)) / 1024;
    return 0;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool running() {
    if (pid_ <= 0)
      return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// SIGKILL, as a crash or a pulled plug would.
  void kill_hard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  /// SIGSTOP: the process stays, its connections stay open, it answers nothing (as
  /// behind a cut network). The destructor still ends it.
  void freeze() {
    if (pid_ > 0)
      ::kill(pid_, SIGSTOP);
  }
  /// SIGTERM, then SIGKILL after 5 s; returns the exit status (-1 if killed).
  int stop() {
    if (pid_ <= 0)
      return exit_status_;
    ::kill(pid_, SIGCONT);  // a frozen node must be able to act on SIGTERM
    ::kill(pid_, SIGTERM);
    for (int k = 0; k < 500; ++k) {
      if (!running())
        return exit_status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_hard();
    return -1;
  }
  /// What the node wrote to stderr so far.
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      char c;
      if (::read(out_, &c, 1) != 1)
        break;
      if (c == '\n')
        return line;
      line += c;
    }
    return line;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int exit_status_ = -1;
  std::uint16_t port_ = 0;
  std::string log_;
};

/// Nodes a test starts; each stops when its node_process is destroyed.
using node_group = std::vector<std::unique_ptr<node_process>>;

/// Starts `n` nodes on free ports of 127.0.0.1, their links secured by `link`.
inline node_group start_nodes(std::size_t n, const std::vector<std::string>& link = with_secret()) {
  node_group out;
  for (std::size_t k = 0; k < n; ++k)
    out.push_back(std::make_unique<node_process>(link));
  return out;
}

/// The nodes of a case that runs once with the shared secret and once over mutual TLS
/// (`tls` from GENERATE(false, true)): `certs` is null with the secret. With TLS and no
/// openssl command the case is skipped (skip_without) and no node starts: see `skipped`.
struct secured_nodes {
  const tls_certs* certs = nullptr;
  node_group nodes;
  bool skipped = false;
};

inline secured_nodes start_secured_nodes(std::size_t n, bool tls) {
  secured_nodes s;
  if (tls && !(s.certs = tls_certs::get())) {
    skip_without("openssl");
    s.skipped = true;
    return s;
  }
  s.nodes = start_nodes(n, s.certs ? s.certs->node_args() : with_secret());
  return s;
}

/// "127.0.0.1:P1,127.0.0.1:P2,...": the nodes as `--nodes` takes them.
inline std::string node_list(const node_group& nodes) {
  std::string out;
  for (const auto& n : nodes) {
    if (!out.empty())
      out.push_back(',');
    out.append(n->address());
  }
  return out;
}

/// "--nodes 127.0.0.1:P1,... --secret-file PATH": a driver's options for the nodes; with
/// `tls`, its TLS options instead of the secret (for nodes started with tls->node_args()).
inline std::string node_args(const node_group& nodes, const tls_certs* tls = nullptr) {
  return "--nodes " + node_list(nodes) + " "
         + (tls ? tls->driver_args() : "--secret-file " + node_secret_file());
}

/// What a command printed (stdout and stderr, as `cmd` redirects them) and its wait status,
/// having killed `victim` (SIGKILL) after the first line `when` accepts.
struct killed_run {
  std::string out;
  bool killed = false;
  int status = 0;  ///< as pclose returns it
};

template <class When>
killed_run run_killing(const std::string& cmd, node_process& victim, When when) {
  killed_run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char line[4096];
  while (fgets(line, sizeof line, p)) {
    r.out += line;
    if (!r.killed && when(std::string(line))) {
      victim.kill_hard();
      r.killed = true;
    }
  }
  r.status = pclose(p);
  return r;
}

/// The nodes as endpoints ({host, port}), e.g. endpoints<node_endpoint>(nodes).
template <class Endpoint>
std::vector<Endpoint> endpoints(const node_group& nodes) {
  std::vector<Endpoint> out;
  for (const auto& n : nodes)
    out.push_back({"127.0.0.1", n->port()});
  return out;
}

}  // namespace recflow::test
