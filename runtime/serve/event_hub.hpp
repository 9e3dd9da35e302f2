/// Server-Sent Events fan-out with bounded memory: every client has a queue of at most
/// `max_queued` events; a client that falls further behind loses its queue and gets one
/// `resync` event instead (it then reloads the whole state), so a slow or stalled client
/// never makes the server hold more than max_clients x max_queued events.
///
///   event_hub hub({.max_clients = 16, .max_queued = 64});
///   auto q = hub.subscribe(this, [] { /* post a write on the connection's strand */ });
///   hub.publish(sse_event("batch", R"({"batch":1})"));
///   std::string text = q->take();   // what the connection writes next ("" when idle)
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace recflow::serve {

/// "event: NAME\ndata: DATA\n\n" (newlines in `data` become further data lines).
std::string sse_event(std::string_view name, std::string_view data);

/// Limits of an event_hub, with defaults.
struct event_hub_options {
  std::size_t max_clients = 16;  ///< open /events connections; more get 503
  std::size_t max_queued = 64;   ///< events waiting per client; more: coalesced into a resync
};

/// One client's pending events.
class event_queue {
 public:
  /// Every pending event, concatenated, and marks the queue busy; "" (and idle) if none.
  /// The connection calls it until it returns "", writing each text before the next call.
  std::string take();
  /// Events dropped for this client (coalesced into resyncs).
  std::size_t dropped() const;

 private:
  friend class event_hub;
  /// Queues `e`; true when the queue was idle (the caller wakes the connection).
  bool push(const std::string& e, std::size_t max_queued);

  mutable std::mutex mutex_;
  std::vector<std::string> pending_;
  bool busy_ = true;  // until the connection's first take(): it writes its headers first
  bool resync_ = false;  ///< pending_ starts with a resync event
  std::size_t dropped_ = 0;
};

class event_hub {
 public:
  explicit event_hub(event_hub_options o = {}) : opts_(o) {}
  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  /// A queue for a new client of `owner` (e.g. a server), woken through `wake` (called
  /// under the hub's lock: it must only post work, never block); null when max_clients
  /// are connected.
  std::shared_ptr<event_queue> subscribe(const void* owner, std::function<void()> wake);
  /// Forgets one client (its connection closed).
  void unsubscribe(const event_queue* q);
  /// Forgets every client of `owner`; once it returns no wake of theirs runs or will run.
  void detach(const void* owner);
  /// Queues `event` for every client.
  void publish(const std::string& event);
  std::size_t clients() const;
  const event_hub_options& options() const noexcept { return opts_; }

 private:
  struct client {
    const void* owner;
    std::shared_ptr<event_queue> queue;
    std::function<void()> wake;
  };
  event_hub_options opts_;
  mutable std::mutex mutex_;
  std::vector<client> clients_;
};

}  // namespace recflow::serve
