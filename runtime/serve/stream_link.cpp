#include "serve/stream_link.hpp"

namespace recflow::serve {

stream_link::stream_link(query_service& svc) : svc_(svc) {
  svc_.set_rating_sink([this](std::vector<rating_event> rs) {
    std::lock_guard lock(queue_mutex_);
    queue_.insert(queue_.end(), rs.begin(), rs.end());
  });
  svc_.set_training(true);
  thread_ = std::thread([this] { publisher(); });
}

stream_link::~stream_link() {
  svc_.set_rating_sink({});
  svc_.set_training(false);
  {
    std::lock_guard lock(slot_mutex_);
    quit_ = true;
  }
  slot_cv_.notify_all();
  thread_.join();
}

std::size_t stream_link::pending() const {
  std::lock_guard lock(queue_mutex_);
  return queue_.size();
}

result<std::optional<rating_batch>> stream_link::next(rating_source& inner) {
  if (stop_.load())
    return std::optional<rating_batch>{};
  rating_batch b;
  if (!inner_ended_) {
    auto got = inner.next();
    if (!got)
      return got;
    if (*got)
      b = std::move(**got);
    else
      inner_ended_ = true;
  }
  {
    std::lock_guard lock(queue_mutex_);
    b.ratings.insert(b.ratings.end(), queue_.begin(), queue_.end());
    queue_.clear();
  }
  if (b.empty())  // the source has ended and nothing was posted: the stream ends
    return std::optional<rating_batch>{};
  std::lock_guard lock(log_mutex_);
  for (const auto& e : b.ratings)
    pairs_.emplace_back(e.user, e.item);
  batch_end_.push_back(pairs_.size());
  return std::optional<rating_batch>{std::move(b)};
}

std::shared_ptr<rating_source> stream_link::wrap(std::shared_ptr<rating_source> inner) {
  return source_from([this, inner]() { return next(*inner); });
}

void stream_link::on_model(std::uint64_t batch, factor_model&& m) {
  {
    std::lock_guard lock(slot_mutex_);
    slot_.emplace(batch, std::move(m));
    handed_ = batch;
  }
  slot_cv_.notify_all();
}

void stream_link::flush() {
  std::unique_lock lock(slot_mutex_);
  slot_cv_.wait(lock, [&] { return published_ >= handed_ || quit_; });
}

void stream_link::publisher() {
  for (;;) {
    std::pair<std::uint64_t, factor_model> job;
    {
      std::unique_lock lock(slot_mutex_);
      slot_cv_.wait(lock, [&] { return quit_ || slot_.has_value(); });
      if (!slot_)
        return;
      job = std::move(*slot_);
      slot_.reset();
    }
    auto& [batch, m] = job;
    std::vector<rating> mapped;
    std::size_t seen = 0;
    {
      std::lock_guard lock(log_mutex_);
      seen = batch < batch_end_.size() ? batch_end_[batch] : pairs_.size();
      mapped.reserve(seen);
      for (std::size_t k = 0; k < seen; ++k) {
        auto u = m.users().find(pairs_[k].first);
        auto i = m.items().find(pairs_[k].second);
        if (u != id_map::npos && i != id_map::npos)
          mapped.push_back({u, i, 0.0f, 0});
      }
    }
    m.rated() = rated_items::build(mapped, m.n_users());
    svc_.publish(std::make_shared<const factor_model>(std::move(m)), batch, seen);
    {
      std::lock_guard lock(slot_mutex_);
      published_ = batch;
    }
    slot_cv_.notify_all();
  }
}

}  // namespace recflow::serve
