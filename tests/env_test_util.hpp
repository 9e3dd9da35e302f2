// A guard for an environment variable in a test: set (or unset) for the scope, restored
// after it, also when an assertion ends the test early.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace recflow::test {

/// Sets the environment variable `name` to `value` for the scope (the engines read their
/// measuring knobs, $RECFLOW_SCHEDULER and the like, when they start; the sources their
/// credentials), or unsets it (null); restores what it was.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* was = std::getenv(name))
      was_ = was;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~scoped_env() {
    if (was_)
      ::setenv(name_.c_str(), was_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::optional<std::string> was_;
};

}  // namespace recflow::test
