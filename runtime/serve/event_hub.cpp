#include "recflow/serve/event_hub.hpp"

#include <algorithm>

namespace recflow::serve {

std::string sse_event(std::string_view name, std::string_view data) {
  std::string out = "event: ";
  out += name;
  out += '\n';
  std::size_t start = 0;
  for (;;) {
    auto nl = data.find('\n', start);
    out += "data: ";
    out += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += '\n';
    if (nl == std::string_view::npos)
      break;
    start = nl + 1;
  }
  out += '\n';
  return out;
}

std::string event_queue::take() {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) {
    busy_ = false;
    return {};
  }
  busy_ = true;
  std::string out;
  for (auto& e : pending_)
    out += e;
  pending_.clear();
  resync_ = false;
  return out;
}

std::size_t event_queue::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

bool event_queue::push(const std::string& e, std::size_t max_queued) {
  std::lock_guard lock(mutex_);
  if (pending_.size() >= max_queued) {
    // Too far behind: what it missed is in the state the client reloads on a resync.
    dropped_ += pending_.size() - (resync_ ? 1 : 0) + 1;
    pending_.clear();
    pending_.push_back(sse_event("resync", "{}"));
    resync_ = true;
  } else {
    pending_.push_back(e);
  }
  bool was_idle = !busy_;
  busy_ = true;
  return was_idle;
}

std::shared_ptr<event_queue> event_hub::subscribe(const void* owner, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (clients_.size() >= opts_.max_clients)
    return nullptr;
  auto q = std::make_shared<event_queue>();
  clients_.push_back({owner, q, std::move(wake)});
  return q;
}

void event_hub::unsubscribe(const event_queue* q) {
  std::lock_guard lock(mutex_);
  std::erase_if(clients_, [&](const client& c) { return c.queue.get() == q; });
}

void event_hub::detach(const void* owner) {
  std::lock_guard lock(mutex_);
  std::erase_if(clients_, [&](const client& c) { return c.owner == owner; });
}

void event_hub::publish(const std::string& event) {
  std::lock_guard lock(mutex_);
  for (auto& c : clients_)
    if (c.queue->push(event, opts_.max_queued) && c.wake)
      c.wake();
}

std::size_t event_hub::clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

}  // namespace recflow::serve
