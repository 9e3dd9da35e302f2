#include "recflow/job/stop_signals.hpp"

#include <csignal>
#include <ctime>
#include <pthread.h>

namespace recflow {

namespace {
sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

stop_signals::stop_signals(std::function<void()> on_stop) : on_stop_(std::move(on_stop)) {
  auto set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] {
    auto set = stop_set();
    timespec tick{0, 100'000'000};  // 100 ms: how soon the destructor is noticed
    while (!quit_.load()) {
      if (sigtimedwait(&set, nullptr, &tick) > 0) {
        {
          std::lock_guard lock(mutex_);
          stopped_.store(true);
        }
        cv_.notify_all();
        if (on_stop_)
          on_stop_();
      }
    }
  });
}

stop_signals::~stop_signals() {
  quit_.store(true);
  thread_.join();
}

bool stop_signals::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto pred = [&] { return stopped_.load(); };
  if (timeout.count() < 0) {
    cv_.wait(lock, pred);
    return true;
  }
  return cv_.wait_for(lock, timeout, pred);
}

}  // namespace recflow
