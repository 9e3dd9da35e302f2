/// Test cases that need a tool the machine may lack (redis-server, gnuplot): without it
/// they are skipped, never passed. The runner (tests/test_main.cpp) then exits with
/// `skip_exit_code`, which CMakeLists.txt declares as every test's SKIP_RETURN_CODE, so
/// ctest reports the case as skipped. With CI=true a missing tool fails the case instead:
/// CI installs every tool (tools/dev.sh deps), so a missing one there is a broken setup.
///
///   if (!have_gnuplot()) {
///     skip_without("gnuplot");
///     return;
///   }
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

namespace recflow::test {

/// The exit code of a run in which a case was skipped and none failed (automake's 77).
inline constexpr int skip_exit_code = 77;

/// True once a test case of this run has been skipped.
inline bool& any_skipped() {
  static bool skipped = false;
  return skipped;
}

/// True when CI=true, as .ci/run sets it.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

/// Marks the running test case skipped because `tool` is not installed (in CI: fails it,
/// which ends the case). The caller returns right after.
inline void skip_without(const std::string& tool) {
  if (in_ci())
    FAIL(tool << " is not installed, and CI runs every test (tools/dev.sh deps installs it)");
  WARN("SKIPPED: " << tool << " is not installed (tools/dev.sh deps installs it)");
  any_skipped() = true;
}

}  // namespace recflow::test
