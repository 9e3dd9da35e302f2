#include "recflow/engine/source_ledger.hpp"

namespace recflow {

class ledger_tap final : public rating_source {
 public:
  ledger_tap(std::shared_ptr<source_ledger> l, std::shared_ptr<rating_source> inner)
      : ledger_(std::move(l)), inner_(std::move(inner)) {}
  result<std::optional<rating_batch>> next() override {
    auto got = inner_->next();
    if (got && *got)
      ledger_->delivered(**got);
    return got;
  }
  result<void> resume_after(const std::string& position) override {
    return inner_->resume_after(position);
  }
  void applied(const std::string& position) override { inner_->applied(position); }
  std::optional<source_backlog> backlog(std::chrono::milliseconds max_age) override {
    return inner_->backlog(max_age);
  }

 private:
  std::shared_ptr<source_ledger> ledger_;
  std::shared_ptr<rating_source> inner_;
};

class ledger_around final : public rating_source {
 public:
  ledger_around(std::shared_ptr<source_ledger> l, std::shared_ptr<rating_source> wrapped)
      : ledger_(std::move(l)), wrapped_(std::move(wrapped)) {}
  result<std::optional<rating_batch>> next() override {
    auto got = wrapped_->next();
    if (got && *got)
      (*got)->position = ledger_->emitted();
    return got;
  }
  result<void> resume_after(const std::string& position) override {
    return wrapped_->resume_after(position);
  }
  void applied(const std::string& position) override {
    // Batches of added ratings only repeat the last position: a broker source must not
    // hear it twice (it would acknowledge entries delivered since).
    if (position.empty() || position == acked_)
      return;
    acked_ = position;
    wrapped_->applied(position);
  }
  std::optional<source_backlog> backlog(std::chrono::milliseconds max_age) override {
    return wrapped_->backlog(max_age);
  }

 private:
  std::shared_ptr<source_ledger> ledger_;
  std::shared_ptr<rating_source> wrapped_;
  std::string acked_;  ///< applied() runs on the engine's driving thread only
};

std::shared_ptr<rating_source> source_ledger::tap(std::shared_ptr<rating_source> inner) {
  return std::make_shared<ledger_tap>(shared_from_this(), std::move(inner));
}

std::shared_ptr<rating_source> source_ledger::around(std::shared_ptr<rating_source> wrapped) {
  return std::make_shared<ledger_around>(shared_from_this(), std::move(wrapped));
}

void source_ledger::delivered(const rating_batch& b) {
  std::lock_guard lock(mutex_);
  pending_ += b.size();
  if (!b.position.empty())
    position_ = b.position;
}

std::string source_ledger::emitted() {
  std::lock_guard lock(mutex_);
  total_ += pending_;
  pending_ = 0;
  through_.push_back(total_);
  return position_;
}

std::uint64_t source_ledger::source_ratings(std::uint64_t batch) {
  std::lock_guard lock(mutex_);
  if (batch < first_ || through_.empty())
    return total_;  // not expected: the engine reports batches it pulled, in order
  while (batch > first_ && through_.size() > 1) {
    through_.pop_front();
    ++first_;
  }
  return batch == first_ ? through_.front() : total_;
}

}  // namespace recflow
