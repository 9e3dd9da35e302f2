#include "recflow/graph/source.hpp"

#include <algorithm>
#include <cmath>

#include "recflow/data/rating_reader.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/random.hpp"

namespace recflow {

result<void> validate(const batch_policy& p) {
  if (p.max_ratings == 0 && p.interval <= 0)
    return error{errc::invalid_argument, "batch policy needs a count or an interval, got neither"};
  if (p.interval < 0)
    return error{errc::invalid_argument,
                 "batch interval must be non-negative, got " + std::to_string(p.interval)};
  return {};
}

namespace {

/// Cuts a vector of events into batches by count and event-time window.
class replay_source final : public rating_source {
 public:
  replay_source(std::vector<rating_event> events, batch_policy policy)
    : events_(std::move(events)), policy_(policy) {}

  result<std::optional<rating_batch>> next() override {
    if (auto ok = validate(policy_); !ok)
      return ok.err();
    if (at_ >= events_.size())
      return std::optional<rating_batch>{};
    rating_batch b;
    if (policy_.max_ratings != 0)  // no regrowth: the batch's vector is one exact block
      b.ratings.reserve(std::min(policy_.max_ratings, events_.size() - at_));
    auto window_end = events_[at_].timestamp + policy_.interval;
    while (at_ < events_.size()) {
      if (policy_.max_ratings != 0 && b.size() == policy_.max_ratings)
        break;
      if (policy_.interval > 0 && !b.empty() && events_[at_].timestamp >= window_end)
        break;
      b.ratings.push_back(events_[at_++]);
    }
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  std::vector<rating_event> events_;
  batch_policy policy_;
  std::size_t at_ = 0;
};

/// Reads the file through a rating_reader a chunk at a time and cuts it by the policy, so
/// that memory holds one chunk and the pending batch, never the whole file; ratings keep
/// the file's ids, so nothing grows with distinct users and items here.
class file_replay_source final : public rating_source {
 public:
  file_replay_source(std::string path, ingest_options opts, batch_policy policy)
    : path_(std::move(path)), opts_(std::move(opts)), policy_(policy) {}

  result<std::optional<rating_batch>> next() override {
    if (auto ok = validate(policy_); !ok)
      return ok.err();
    if (!reader_) {
      auto r = rating_reader::open(path_, opts_);
      if (!r)
        return r.err();
      reader_.emplace(std::move(*r));
    }
    // Read until the pending events hold a whole batch: max_ratings of them, or one past
    // the batch's event-time window, or the end of the file.
    for (;;) {
      auto have = pending_.size() - head_;
      if (have > 0 && batch_is_whole(have))
        break;
      if (eof_)
        break;
      // Read no further than the batch needs, so that in strict mode a bad line fails the
      // batch it belongs to, after every earlier batch was returned.
      auto want = policy_.max_ratings != 0 ? policy_.max_ratings - have : chunk;
      if (auto ok = fill(want); !ok)
        return ok.err();
    }
    if (head_ == pending_.size())
      return std::optional<rating_batch>{};
    rating_batch b;
    if (policy_.max_ratings != 0)  // no regrowth: the batch's vector is one exact block
      b.ratings.reserve(std::min(policy_.max_ratings, pending_.size() - head_));
    auto window_end = pending_[head_].timestamp + policy_.interval;
    while (head_ < pending_.size()) {
      if (policy_.max_ratings != 0 && b.size() == policy_.max_ratings)
        break;
      if (policy_.interval > 0 && !b.empty() && pending_[head_].timestamp >= window_end)
        break;
      b.ratings.push_back(pending_[head_++]);
    }
    scanned_ = 0;
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  /// Ratings read at a time when batches are cut by event time only.
  static constexpr std::size_t chunk = 1 << 12;

  bool batch_is_whole(std::size_t have) {
    if (policy_.max_ratings != 0 && have >= policy_.max_ratings)
      return true;
    if (policy_.interval > 0) {
      // The window of the batch starting at head_ closes at the first later event (in
      // file order) outside it; scanned_ remembers how far that was checked.
      auto window_end = pending_[head_].timestamp + policy_.interval;
      if (scanned_ < head_ + 1)
        scanned_ = head_ + 1;
      for (; scanned_ < pending_.size(); ++scanned_)
        if (pending_[scanned_].timestamp >= window_end)
          return true;
    }
    return false;
  }

  result<void> fill(std::size_t want) {
    if (head_ > 0) {  // drop what was emitted before growing
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(head_));
      scanned_ = scanned_ > head_ ? scanned_ - head_ : 0;
      head_ = 0;
    }
    chunk_.clear();
    auto n = reader_->next(want, chunk_);
    if (!n)
      return n.err();
    if (*n == 0) {
      eof_ = true;
      return {};
    }
    for (const auto& r : chunk_)
      pending_.push_back({r.user, r.item, r.value, r.timestamp});
    return {};
  }

  std::string path_;
  ingest_options opts_;
  batch_policy policy_;
  std::optional<rating_reader> reader_;
  std::vector<external_rating> chunk_;  ///< read with the file's ids: no id map grows
  std::vector<rating_event> pending_;  ///< read, not yet emitted from head_ on
  std::size_t head_ = 0;
  std::size_t scanned_ = 0;  ///< pending_[head_ + 1, scanned_) lie inside head_'s window
  bool eof_ = false;
};

class planted_source final : public rating_source {
 public:
  explicit planted_source(const synthetic_params& p) : p_(p), rng_(p.seed) {
    // Each factor entry N(0, s^2) makes U.P have variance rank * s^4.
    auto k = std::max(1, p.planted_rank);
    double s = std::pow(p.signal_stddev * p.signal_stddev / k, 0.25);
    auto fill = [&](std::uint32_t n, std::vector<double>& bias, std::vector<float>& f) {
      bias.resize(n);
      f.resize(std::size_t(n) * std::size_t(k));
      for (std::uint32_t e = 0; e < n; ++e) {
        bias[e] = rng_.normal(p.bias_stddev);
        for (int j = 0; j < k; ++j)
          f[std::size_t(e) * k + j] = static_cast<float>(rng_.normal(s));
      }
    };
    fill(p.users, user_bias_, user_f_);
    fill(p.items, item_bias_, item_f_);
  }

  result<std::optional<rating_batch>> next() override {
    if (p_.users == 0 || p_.items == 0 || p_.batch_size == 0)
      return error{errc::invalid_argument, "synthetic source needs users, items and a batch size"};
    if (emitted_ >= p_.ratings)
      return std::optional<rating_batch>{};
    auto n = std::min<std::uint64_t>(p_.batch_size, p_.ratings - emitted_);
    auto k = std::size_t(std::max(1, p_.planted_rank));
    rating_batch b;
    b.ratings.reserve(n);
    for (std::uint64_t j = 0; j < n; ++j) {
      auto u = rng_.below(p_.users);
      auto i = rng_.below(p_.items);
      double v = p_.mu + user_bias_[u] + item_bias_[i];
      for (std::size_t d = 0; d < k; ++d)
        v += double(user_f_[u * k + d]) * double(item_f_[i * k + d]);
      v = p_.scale.clamp(v + rng_.normal(p_.noise));
      b.ratings.push_back({std::int64_t(u) + 1, std::int64_t(i) + 1, static_cast<float>(v),
                           static_cast<std::int64_t>(emitted_ + j)});
    }
    emitted_ += n;
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  synthetic_params p_;
  splitmix64 rng_;
  std::vector<double> user_bias_, item_bias_;
  std::vector<float> user_f_, item_f_;
  std::uint64_t emitted_ = 0;
};

}  // namespace

std::shared_ptr<rating_source> memory_source(std::vector<rating_event> events,
                                             batch_policy policy) {
  return std::make_shared<replay_source>(std::move(events), policy);
}

std::shared_ptr<rating_source> memory_source(const rating_table& table, batch_policy policy) {
  return memory_source(to_batch(table.ratings, table.users, table.items).ratings, policy);
}

std::shared_ptr<rating_source> file_source(std::string path, ingest_options opts,
                                           batch_policy policy) {
  return std::make_shared<file_replay_source>(std::move(path), std::move(opts), policy);
}

std::shared_ptr<rating_source> synthetic_source(const synthetic_params& p) {
  return std::make_shared<planted_source>(p);
}

}  // namespace recflow
