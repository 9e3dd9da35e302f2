/// How often a stream hands its model to a server beside it: at most once per interval
/// (0: after every batch), the first time at once. The explicit engines' coordinator and
/// the implicit stream job pace their publishing with it.
#pragma once

#include <chrono>
#include <optional>

namespace recflow {

class publish_pacer {
 public:
  using clock = std::chrono::steady_clock;
  explicit publish_pacer(std::chrono::milliseconds interval = {}) : interval_(interval) {}

  /// Whether a model is due at `now`; if so, `now` counts as the last publish.
  bool due(clock::time_point now) {
    if (last_ && interval_.count() > 0 && now - *last_ < interval_)
      return false;
    last_ = now;
    return true;
  }

 private:
  std::chrono::milliseconds interval_;
  std::optional<clock::time_point> last_;
};

}  // namespace recflow
