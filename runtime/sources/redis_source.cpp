#include "recflow/sources/redis_source.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <hiredis/hiredis.h>

namespace recflow {

namespace {
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
}  // namespace

result<redis_stream_address> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme))
    return error{errc::invalid_argument, "a Redis source is redis://HOST:PORT/STREAM, got '"
                                           + std::string(url) + "'"};
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size())
    return error{errc::invalid_argument, "no stream name in '" + std::string(url)
                                           + "' (redis://HOST:PORT/STREAM)"};
  auto hp = parse_host_port(rest.substr(0, slash));
  if (!hp)
    return hp.err();
  return redis_stream_address{*hp, std::string(rest.substr(slash + 1))};
}

result<void> validate(const redis_source_options& o) {
  if (o.at.stream.empty())
    return error{errc::invalid_argument, "Redis stream name is empty"};
  if (o.max_ratings == 0 && o.interval.count() <= 0)
    return error{errc::invalid_argument, "a Redis batch needs a size or an interval, got neither"};
  if (o.interval.count() < 0 || o.idle_timeout.count() < 0)
    return error{errc::invalid_argument, "Redis batch interval and idle timeout must be >= 0"};
  if (o.group.empty() || o.consumer.empty())
    return error{errc::invalid_argument, "Redis consumer group and consumer need names"};
  return {};
}

namespace {

bool valid_entry_id(std::string_view id) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= id.size())
    return false;
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return digits(id.substr(0, dash)) && digits(id.substr(dash + 1));
}

class redis_stream_source final : public rating_source {
 public:
  explicit redis_stream_source(redis_source_options o) : o_(std::move(o)) {
    if (!o_.dead)
      o_.dead = std::make_shared<dead_letters>();
    if (o_.dead_letter_stream.empty())
      o_.dead_letter_stream = o_.at.stream + ":dead";
  }

  result<void> resume_after(const std::string& position) override {
    if (!valid_entry_id(position))
      return error{errc::invalid_argument, "'" + position + "' is not a Redis stream entry id"};
    if (auto ok = open(); !ok)
      return ok;
    auto r = conn_->command({"XGROUP", "SETID", o_.at.stream, o_.group, position});
    if (!r)
      return r.err();
    return {};
  }

  void applied(const std::string& position) override {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(m_);
      while (!pending_.empty()) {
        auto& front = pending_.front();
        ids.insert(ids.end(), front.second.begin(), front.second.end());
        bool last = front.first == position;
        pending_.pop_front();
        if (last)
          break;
      }
    }
    ack(ids);
  }

  /// XINFO GROUPS on the acknowledging connection: the group's pending entries and its
  /// lag (Redis 7 and later; nil when the server cannot tell, e.g. after XGROUP SETID).
  std::optional<source_backlog> backlog(milliseconds max_age) override {
    std::lock_guard lock(ack_m_);
    auto now = clock::now();
    if (backlog_ && max_age.count() > 0 && now - backlog_at_ < max_age)
      return backlog_;
    backlog_at_ = now;  // a failed query is not retried before max_age either
    if (!ack_conn_) {
      auto c = redis_client::connect(o_.at.server);
      if (!c)
        return backlog_;
      ack_conn_.emplace(std::move(*c));
    }
    auto r = ack_conn_->command({"XINFO", "GROUPS", o_.at.stream});
    if (!r) {
      ack_conn_.reset();
      return backlog_;
    }
    for (const auto& g : r->elements) {  // one group: [name, NAME, pending, N, lag, N, ...]
      const redis_reply *name = nullptr, *pending = nullptr, *lag = nullptr;
      for (std::size_t k = 0; k + 1 < g.elements.size(); k += 2) {
        const auto& key = g.elements[k].str;
        const auto* v = &g.elements[k + 1];
        if (key == "name") name = v;
        else if (key == "pending") pending = v;
        else if (key == "lag") lag = v;
      }
      if (!name || name->str != o_.group || !pending || pending->kind != redis_reply::integer)
        continue;
      source_backlog b{.pending = std::uint64_t(std::max(0LL, pending->integer_value))};
      if (lag && lag->kind == redis_reply::integer)
        b.unread = std::uint64_t(std::max(0LL, lag->integer_value));
      return backlog_ = b;
    }
    return backlog_;
  }

  result<std::optional<rating_batch>> next() override {
    if (ended_)
      return std::optional<rating_batch>{};
    if (auto ok = open(); !ok)
      return ok.err();
    rating_batch b;
    std::vector<std::string> ids;
    auto idle_since = clock::now();
    std::optional<clock::time_point> batch_end;
    for (;;) {
      auto now = clock::now();
      if (!b.empty() && batch_end && now >= *batch_end)
        break;
      // Wait at most until the batch's interval ends, or the idle timeout, or a second
      // (then look again: Redis's BLOCK 0 would wait forever).
      milliseconds wait{1000};
      if (batch_end)
        wait = std::chrono::duration_cast<milliseconds>(*batch_end - now);
      if (o_.idle_timeout.count() > 0)
        wait = std::min(wait, std::chrono::duration_cast<milliseconds>(
                                idle_since + o_.idle_timeout - now));
      wait = std::max(wait, milliseconds{1});
      auto want = o_.max_ratings > 0 ? o_.max_ratings - b.size() : std::size_t{1000};
      if (auto ok = conn_->set_timeout(wait + std::chrono::seconds(5)); !ok)
        return ok.err();
      // Decoded straight from hiredis's reply: [[stream, [[id, [f, v, ...]], ...]]].
      std::size_t got = 0;
      std::vector<std::pair<std::string, std::string>> dead;  // (entry id, reason)
      auto read = conn_->command_raw(
        {"XREADGROUP", "GROUP", o_.group, o_.consumer, "COUNT", std::to_string(want), "BLOCK",
         std::to_string(wait.count()), "STREAMS", o_.at.stream, ">"},
        [&](const redisReply& r) {
          if (r.type != REDIS_REPLY_ARRAY || r.elements == 0)
            return;
          const auto* s = r.element[0];
          if (s->type != REDIS_REPLY_ARRAY || s->elements != 2
              || s->element[1]->type != REDIS_REPLY_ARRAY)
            return;
          const auto* entries = s->element[1];
          std::vector<std::string_view> kv;
          for (std::size_t j = 0; j < entries->elements && !ended_; ++j) {
            const auto* e = entries->element[j];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
              continue;
            ++got;
            ids.emplace_back(e->element[0]->str, e->element[0]->len);
            const auto* f = e->element[1];
            kv.clear();
            bool pairs = f->type == REDIS_REPLY_ARRAY && f->elements % 2 == 0;
            for (std::size_t k = 0; f->type == REDIS_REPLY_ARRAY && k < f->elements; ++k)
              kv.emplace_back(f->element[k]->str ? f->element[k]->str : "", f->element[k]->len);
            std::string reason;
            if (auto ev = decode(kv, pairs, reason))
              b.ratings.push_back(*ev);
            else if (!reason.empty())
              dead.emplace_back(ids.back(), std::move(reason));
          }
        });
      if (!read)
        return read.err();
      for (auto& [id, reason] : dead)
        dead_letter(id, reason);
      if (got == 0) {
        if (o_.idle_timeout.count() > 0 && clock::now() - idle_since >= o_.idle_timeout) {
          ended_ = true;
          break;
        }
        continue;
      }
      idle_since = clock::now();
      if (!b.empty() && !batch_end && o_.interval.count() > 0)
        batch_end = clock::now() + o_.interval;
      if (ended_ || (o_.max_ratings > 0 && b.size() >= o_.max_ratings))
        break;
    }
    if (b.empty()) {  // only dead letters or the end marker: nothing to train on
      ack(ids);
      if (ended_)
        return std::optional<rating_batch>{};
      return next();
    }
    b.position = ids.back();
    {
      std::lock_guard lock(m_);
      pending_.emplace_back(b.position, std::move(ids));
    }
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  result<void> open() {
    if (conn_)
      return {};
    if (auto ok = validate(o_); !ok)
      return ok;
    auto c = redis_client::connect(o_.at.server);
    if (!c)
      return c.err();
    auto r = c->command({"XGROUP", "CREATE", o_.at.stream, o_.group, "0", "MKSTREAM"});
    if (!r && r.err().message.find("BUSYGROUP") == std::string::npos)
      return r.err();
    conn_.emplace(std::move(*c));
    return {};
  }

  /// The rating of an entry's fields (key, value, key, value, ...), or nothing: the end
  /// marker (sets ended_) or a dead letter (sets `reason`).
  std::optional<rating_event> decode(const std::vector<std::string_view>& kv, bool pairs,
                                     std::string& reason) {
    std::string_view user, item, rating, timestamp, unknown;
    bool has_user = false, has_item = false, has_rating = false;
    for (std::size_t j = 0; j + 1 < kv.size(); j += 2) {
      auto k = kv[j], v = kv[j + 1];
      if (k == "user") { user = v; has_user = true; }
      else if (k == "item") { item = v; has_item = true; }
      else if (k == "rating") { rating = v; has_rating = true; }
      else if (k == "timestamp") timestamp = v;
      else if (k == "eos") { ended_ = true; return std::nullopt; }
      else if (unknown.empty()) unknown = k;
    }
    if (!pairs)
      reason = "fields are not key/value pairs";
    else if (!has_user || !has_item || !has_rating)
      reason = std::string("missing field ")
               + (!has_user ? "user" : !has_item ? "item" : "rating")
               + (unknown.empty() ? "" : " (has unknown field '" + std::string(unknown) + "')");
    else if (auto ev = parse_rating_fields(user, item, rating, timestamp, o_.scale))
      return *ev;
    else
      reason = ev.err().message;
    return std::nullopt;
  }

  /// Counts a dead letter and adds it, with the reason, to the dead-letter stream.
  void dead_letter(const std::string& id, const std::string& reason) {
    o_.dead->add("entry " + id + ": " + reason);
    // Best effort: the count above is what the run reports.
    (void)conn_->command({"XADD", o_.dead_letter_stream, "*", "id", id, "reason", reason});
  }

  void ack(const std::vector<std::string>& ids) {
    if (ids.empty())
      return;
    std::lock_guard lock(ack_m_);
    if (!ack_conn_) {
      auto c = redis_client::connect(o_.at.server);
      if (!c)
        return;  // the entries stay pending; a resume reads them again anyway
      ack_conn_.emplace(std::move(*c));
    }
    std::vector<std::string> args{"XACK", o_.at.stream, o_.group};
    args.insert(args.end(), ids.begin(), ids.end());
    if (!ack_conn_->command(args))
      ack_conn_.reset();
  }

  redis_source_options o_;
  std::optional<redis_client> conn_;
  bool ended_ = false;
  std::mutex m_;
  std::deque<std::pair<std::string, std::vector<std::string>>> pending_;
  std::mutex ack_m_;
  std::optional<redis_client> ack_conn_;
  std::optional<source_backlog> backlog_;  ///< the last answer (under ack_m_)
  clock::time_point backlog_at_{};
};

void sleep_until(clock::time_point t) {
  if (t > clock::now())
    std::this_thread::sleep_until(t);
}

std::string number_text(float v) {  // shortest text that reads back as v
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

}  // namespace

std::shared_ptr<rating_source> redis_source(redis_source_options o) {
  return std::make_shared<redis_stream_source>(std::move(o));
}

result<redis_publish_report> publish_ratings(const redis_publish_options& o,
                                             std::span<const rating_event> events,
                                             const std::function<void(std::uint64_t)>& on_sent) {
  if (o.at.stream.empty())
    return error{errc::invalid_argument, "Redis stream name is empty"};
  if (!(o.rate >= 0.0))
    return error{errc::invalid_argument, "publish rate must be >= 0 ratings/s"};
  auto c = redis_client::connect(o.at.server);
  if (!c)
    return c.err();
  redis_publish_report rep;
  auto start = clock::now();
  auto chunk = std::max<std::size_t>(1, o.pipeline);
  if (o.rate > 0.0)  // at least 20 sends a second, so pacing stays smooth
    chunk = std::min<std::size_t>(chunk, std::max<std::size_t>(1, std::size_t(o.rate / 20)));
  std::size_t at = 0;
  while (at < events.size()) {
    if (o.rate > 0.0)
      sleep_until(start + std::chrono::duration_cast<clock::duration>(
                            std::chrono::duration<double>(double(at) / o.rate)));
    auto n = std::min(chunk, events.size() - at);
    for (std::size_t j = 0; j < n; ++j) {
      const auto& e = events[at + j];
      std::vector<std::string> args{"XADD", o.at.stream, "*", "user", std::to_string(e.user),
                                    "item", std::to_string(e.item), "rating",
                                    number_text(e.value)};
      if (e.timestamp != 0) {
        args.push_back("timestamp");
        args.push_back(std::to_string(e.timestamp));
      }
      if (auto ok = c->append(args); !ok)
        return ok.err();
    }
    for (std::size_t j = 0; j < n; ++j) {
      auto r = c->read_reply();
      if (!r)
        return r.err();
      rep.last_id = r->str;
    }
    at += n;
    rep.published = at;
    if (on_sent)
      on_sent(at);
  }
  if (o.end_marker) {
    auto r = c->command({"XADD", o.at.stream, "*", "eos", "1"});
    if (!r)
      return r.err();
  }
  rep.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return rep;
}

}  // namespace recflow
