/// Helpers for tests that run the real `recflow` binary: capture its output and exit
/// status, and a scratch folder removed at scope exit.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace recflow::test {

/// What a run of the CLI produced.
struct run_result {
  int status = -1;
  std::string out;        ///< stdout and stderr together
  std::string last_line;  ///< the last non-empty line (the --json summary)
};

/// A shell command's exit status and stdout.
struct shell_result {
  int status = -1;
  std::string output;
};

/// Runs `cmd` through the shell and captures its stdout and exit status.
inline shell_result run_shell(const std::string& cmd) {
  shell_result r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof buf, p))
    r.output.append(buf, n);
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

/// Runs `ENV recflow ARGS` through the shell and captures its output and exit status.
inline run_result run_cli(const std::string& args, const std::string& env = "") {
  auto shell = run_shell(env + " " + std::string(RECFLOW_CLI_PATH) + " " + args + " 2>&1");
  run_result r;
  r.status = shell.status;
  r.out = std::move(shell.output);
  auto end = r.out.find_last_not_of('\n');
  auto start = end == std::string::npos ? std::string::npos : r.out.rfind('\n', end);
  auto from = start == std::string::npos ? 0 : start + 1;
  r.last_line = end == std::string::npos ? "" : r.out.substr(from, end - from + 1);
  return r;
}

/// The whole text of the file at `path` (empty when it cannot be read).
inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A scratch folder, unique to this process and object, removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    path = std::filesystem::temp_directory_path()
           / ("recflow-cli-" + std::to_string(::getpid()) + "-"
              + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace recflow::test
