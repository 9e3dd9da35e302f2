/// SIGINT and SIGTERM as a stop request for commands that serve: blocked in every thread
/// (construct this before starting any thread) and awaited on a thread of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace recflow {

class stop_signals {
 public:
  /// Blocks SIGINT and SIGTERM for this thread and those it starts later, and starts
  /// the waiting thread. `on_stop` runs on that thread when a signal arrives.
  explicit stop_signals(std::function<void()> on_stop = {});
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// True once a signal has arrived.
  bool stopped() const noexcept { return stopped_.load(); }
  /// Waits for a signal at most `timeout` (forever when negative); true if one arrived.
  bool wait(std::chrono::milliseconds timeout);

 private:
  std::function<void()> on_stop_;
  std::atomic<bool> stopped_{false}, quit_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace recflow
