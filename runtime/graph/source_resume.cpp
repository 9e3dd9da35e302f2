#include "recflow/graph/source_resume.hpp"

#include <algorithm>

namespace recflow {

result<void> rating_source::resume_after(const std::string& position) {
  return error{errc::invalid_argument,
               "this source cannot continue after position '" + position + "'"};
}

void rating_source::applied(const std::string&) {}

std::optional<source_backlog> rating_source::backlog(std::chrono::milliseconds) {
  return std::nullopt;
}

namespace {

class skipping_source final : public rating_source {
 public:
  skipping_source(std::shared_ptr<rating_source> inner, std::uint64_t skip)
    : inner_(std::move(inner)), skip_(skip) {}

  result<std::optional<rating_batch>> next() override {
    for (;;) {
      auto r = inner_->next();
      if (!r || !*r || skip_ == 0)
        return r;
      auto& b = **r;
      if (b.size() <= skip_) {
        skip_ -= b.size();
        continue;
      }
      b.ratings.erase(b.ratings.begin(),
                      b.ratings.begin() + static_cast<std::ptrdiff_t>(skip_));
      skip_ = 0;
      return r;
    }
  }
  result<void> resume_after(const std::string& position) override {
    return inner_->resume_after(position);
  }
  void applied(const std::string& position) override { inner_->applied(position); }
  std::optional<source_backlog> backlog(std::chrono::milliseconds max_age) override {
    return inner_->backlog(max_age);
  }

 private:
  std::shared_ptr<rating_source> inner_;
  std::uint64_t skip_;
};

}  // namespace

std::shared_ptr<rating_source> skip_ratings(std::shared_ptr<rating_source> inner,
                                            std::uint64_t ratings) {
  return std::make_shared<skipping_source>(std::move(inner), ratings);
}

}  // namespace recflow
