/// Small helpers for what commands print: the --json summary line and errors.
#pragma once

#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/model/error.hpp"

namespace recflow::cli {

/// Exit codes: 0 success, 1 a failure in the data or the run, 2 bad usage.
enum exit_code : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// Prints `recflow: <message>` on stderr and returns the exit code for the error.
inline int report(const error& e) {
  std::cerr << "recflow: " << e.message << '\n';
  return e.code == errc::invalid_argument ? exit_usage : exit_failure;
}

/// Prints the machine-readable summary as one line (the last line of stdout).
inline void print_json(const nlohmann::json& j) {
  std::cout << j.dump() << std::endl;
}

}  // namespace recflow::cli
