#include "recflow/sources/replay_source.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

namespace recflow {

namespace {

using clock = std::chrono::steady_clock;

class timed_replay final : public rating_source {
 public:
  timed_replay(std::string path, ingest_options ingest, replay_options o)
    : path_(std::move(path)), ingest_(std::move(ingest)), o_(o) {}

  result<void> resume_after(const std::string& position) override {
    constexpr std::string_view tag = "rating:";
    std::uint64_t n = 0;
    auto digits = std::string_view(position).substr(std::min(position.size(), tag.size()));
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (!position.starts_with(tag) || digits.empty() || ec != std::errc{}
        || p != digits.data() + digits.size())
      return error{errc::invalid_argument,
                   "'" + position + "' is not a replay position (rating:N)"};
    if (auto ok = load(); !ok)
      return ok;
    if (n > events_.size())
      return error{errc::invalid_argument, path_ + ": position " + position + " is past the "
                                             + std::to_string(events_.size()) + " ratings"};
    at_ = n;
    return {};
  }

  result<std::optional<rating_batch>> next() override {
    if (auto ok = validate(o_.policy); !ok)
      return ok.err();
    if (!(o_.speed >= 0.0))
      return error{errc::invalid_argument, "replay speed must be >= 0"};
    if (auto ok = load(); !ok)
      return ok.err();
    if (at_ >= events_.size())
      return std::optional<rating_batch>{};
    rating_batch b;
    auto window_end = events_[at_].timestamp + o_.policy.interval;
    while (at_ < events_.size()) {
      if (o_.policy.max_ratings != 0 && b.size() == o_.policy.max_ratings)
        break;
      if (o_.policy.interval > 0 && !b.empty() && events_[at_].timestamp >= window_end)
        break;
      b.ratings.push_back(events_[at_++]);
    }
    if (o_.speed > 0.0) {  // release the batch when its last rating is due
      if (!origin_) {
        origin_ = clock::now();
        first_ts_ = b.ratings.front().timestamp;
      }
      // At most a year of waiting per batch keeps the conversion defined.
      auto wait = std::min(double(b.ratings.back().timestamp - first_ts_) / o_.speed, 3.2e7);
      auto due = *origin_ + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(wait));
      if (due > clock::now())
        std::this_thread::sleep_until(due);
    }
    b.position = "rating:" + std::to_string(at_);
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  result<void> load() {
    if (loaded_)
      return {};
    auto table = read_ratings(path_, ingest_);
    if (!table)
      return table.err();
    events_ = to_batch(table->ratings, table->users, table->items).ratings;
    std::stable_sort(events_.begin(), events_.end(),
                     [](const rating_event& a, const rating_event& b) { return a.timestamp < b.timestamp; });
    loaded_ = true;
    return {};
  }

  std::string path_;
  ingest_options ingest_;
  replay_options o_;
  bool loaded_ = false;
  std::vector<rating_event> events_;
  std::size_t at_ = 0;
  std::optional<clock::time_point> origin_;
  std::int64_t first_ts_ = 0;
};

}  // namespace

std::shared_ptr<rating_source> replay_source(std::string path, ingest_options ingest,
                                             replay_options o) {
  return std::make_shared<timed_replay>(std::move(path), std::move(ingest), o);
}

}  // namespace recflow
