#include "recflow/engine/thread_tasks.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace recflow {

task_runner thread_tasks(std::size_t threads) {
  if (threads <= 1)
    return {};
  return [threads](std::size_t n, const std::function<void(std::size_t)>& body) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first;
    std::mutex first_mutex;
    auto work = [&] {
      try {
        for (auto t = next++; t < n && !failed; t = next++)
          body(t);
      } catch (...) {
        std::lock_guard lock(first_mutex);
        if (!first)
          first = std::current_exception();
        failed = true;
      }
    };
    {
      std::vector<std::jthread> helpers;
      const auto extra = std::min(threads, n) - (n > 0 ? 1 : 0);  // the caller is one
      helpers.reserve(extra);
      for (std::size_t h = 0; h < extra; ++h)
        helpers.emplace_back(work);
      work();
    }  // joined
    if (first)
      std::rethrow_exception(first);
  };
}

}  // namespace recflow
