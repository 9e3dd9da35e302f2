#include "recflow/serve/stream_link.hpp"

#include <algorithm>

namespace recflow::serve {

stream_link::stream_link(query_service& svc) : svc_(svc) {
  svc_.set_rating_sink([this](std::vector<rating_event> rs) {
    std::lock_guard lock(queue_mutex_);
    queue_.insert(queue_.end(), rs.begin(), rs.end());
  }, [this] { return pending(); });
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
  batch_end_.push_back(pairs_base_ + pairs_.size());
  return std::optional<rating_batch>{std::move(b)};
}

std::shared_ptr<rating_source> stream_link::wrap(std::shared_ptr<rating_source> inner) {
  // Positions and acknowledgements pass through to the source (a broker acknowledges
  // the batches the engine applied).
  class linked final : public rating_source {
   public:
    linked(stream_link& link, std::shared_ptr<rating_source> inner)
        : link_(link), inner_(std::move(inner)) {}
    result<std::optional<rating_batch>> next() override { return link_.next(*inner_); }
    result<void> resume_after(const std::string& position) override {
      return inner_->resume_after(position);
    }
    void applied(const std::string& position) override { inner_->applied(position); }
    std::optional<source_backlog> backlog(std::chrono::milliseconds max_age) override {
      return inner_->backlog(max_age);
    }

   private:
    stream_link& link_;
    std::shared_ptr<rating_source> inner_;
  };
  return std::make_shared<linked>(*this, std::move(inner));
}

void stream_link::start_at(std::uint64_t batches) {
  std::lock_guard lock(log_mutex_);
  batch_base_ = batches;
}

void stream_link::seed_rated(const factor_model& seed) {
  std::lock_guard lock(log_mutex_);
  for (index_t u = 0; u + 1 < seed.rated().offsets.size(); ++u)
    for (auto i : seed.rated().of(u))
      pairs_.emplace_back(seed.users().external(u), seed.items().external(i));
  seed_pairs_ = pairs_base_ + pairs_.size();
  batch_end_.assign(1, seed_pairs_);
  batch_base_ = 0;
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
    // Extend the rated-items index with the pairs of the batches since the last publish
    // (models only append keys, so earlier indices stay valid), then lay it out as CSR.
    std::uint64_t seen = 0;
    std::vector<index_t> touched;
    {
      std::lock_guard lock(log_mutex_);
      auto k = batch - std::min(batch, batch_base_);
      seen = k < batch_end_.size() ? batch_end_[k] : pairs_base_ + pairs_.size();
      if (rated_by_user_.size() < m.n_users())
        rated_by_user_.resize(m.n_users());
      for (; indexed_ < seen; ++indexed_) {
        const auto& pair = pairs_[indexed_ - pairs_base_];
        auto u = m.users().find(pair.first);
        auto i = m.items().find(pair.second);
        if (u == id_map::npos || i == id_map::npos)
          continue;
        rated_by_user_[u].push_back(i);
        touched.push_back(u);
      }
      // Forget what is indexed: later models are of later batches.
      pairs_.erase(pairs_.begin(), pairs_.begin() + std::ptrdiff_t(indexed_ - pairs_base_));
      pairs_base_ = indexed_;
      if (k < batch_end_.size()) {
        batch_end_.erase(batch_end_.begin(), batch_end_.begin() + std::ptrdiff_t(k));
        batch_base_ = batch;
      }
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (auto u : touched) {
      auto& v = rated_by_user_[u];
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    }
    rated_items rated;
    rated.offsets.reserve(std::size_t(m.n_users()) + 1);
    rated.offsets.push_back(0);
    for (index_t u = 0; u < m.n_users(); ++u) {
      const auto& v = rated_by_user_[u];
      rated.items.insert(rated.items.end(), v.begin(), v.end());
      rated.offsets.push_back(rated.items.size());
    }
    m.rated() = std::move(rated);
    svc_.publish(std::make_shared<const factor_model>(std::move(m)), batch, seen - seed_pairs_);
    {
      std::lock_guard lock(slot_mutex_);
      published_ = batch;
    }
    slot_cv_.notify_all();
  }
}

}  // namespace recflow::serve
