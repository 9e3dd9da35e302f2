#include "recflow/sources/redis_source.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_set>
#include <utility>

#include <hiredis/hiredis.h>

#include "redis_ack.hpp"
#include "redis_entries.hpp"

namespace recflow {

namespace {
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
}  // namespace

namespace {

using redis_detail::entry_id;
using redis_detail::parse_entry_id;

std::string id_text(entry_id id) { return std::to_string(id.ms) + "-" + std::to_string(id.seq); }

/// How an entry reached the reader, which decides whether it is new to it.
enum class read_kind : std::uint8_t {
  fresh,    ///< XREADGROUP ">": never delivered to the group before
  history,  ///< XREADGROUP "0" after a reconnect: delivered to this consumer, maybe unseen
  claimed,  ///< XAUTOCLAIM: pending too long, maybe at a consumer that died
};

/// `o` with what its empty fields stand for filled in.
redis_source_options with_defaults(redis_source_options o) {
  if (!o.dead)
    o.dead = std::make_shared<dead_letters>();
  if (o.dead_letter_stream.empty())
    o.dead_letter_stream = o.at.stream + ":dead";
  o.end_key = redis_end_key(o.at, o.end_key);
  if (!o.log)
    o.log = [](const std::string& note) { std::cerr << "recflow: " << note << '\n'; };
  return o;
}

class redis_stream_source final : public rating_source {
 public:
  explicit redis_stream_source(redis_source_options o)
      : o_(with_defaults(std::move(o))),
        name_("redis " + o_.at.server.host + ":" + std::to_string(o_.at.server.port)),
        acks_(o_, name_) {}

  result<void> resume_after(const std::string& position) override {
    if (!parse_entry_id(position))
      return error{errc::invalid_argument, "'" + position + "' is not a Redis stream entry id"};
    if (auto ok = open(); !ok)
      return ok;
    auto r = conn_->command({"XGROUP", "SETID", o_.at.stream, o_.group, position});
    if (!r)
      return r.err();
    resumed_at_ = parse_entry_id(position);
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
    ack(std::move(ids));
  }

  /// XINFO GROUPS on the acknowledging connection: the group's pending entries and its
  /// lag (Redis 7 and later; nil when the server cannot tell, e.g. after XGROUP SETID),
  /// and this reader's counts.
  std::optional<source_backlog> backlog(milliseconds max_age) override {
    auto b = acks_.backlog(max_age);
    if (b) {
      b->reconnects = reconnects_.load();
      b->claimed = claimed_.load();
    }
    return b;
  }

  result<std::optional<rating_batch>> next() override {
    if (ended_)
      return std::optional<rating_batch>{};
    if (auto ok = open(); !ok)
      return ok.err();
    auto idle_since = clock::now();
    std::optional<clock::time_point> batch_end;
    for (;;) {
      auto now = clock::now();
      if (!batch_.empty() && batch_end && now >= *batch_end)
        break;
      // Wait at most until the batch's interval ends, or the idle timeout, or a second
      // (then look again: Redis's BLOCK 0 would wait forever); not at all once the end
      // key is set (then an empty read is the end), nor when the last read came back full
      // (the stream may be at its end: look, and check the end key, before waiting).
      milliseconds wait{1000};
      if (batch_end)
        wait = std::chrono::duration_cast<milliseconds>(*batch_end - now);
      if (o_.idle_timeout.count() > 0)
        wait = std::min(wait, std::chrono::duration_cast<milliseconds>(
                                idle_since + o_.idle_timeout - now));
      wait = std::max(wait, milliseconds{1});
      if (end_seen_ || !drained_)
        wait = milliseconds{0};
      if (o_.max_ratings > 0 && batch_.size() >= o_.max_ratings)  // a reconnect can fill it
        break;
      auto want = o_.max_ratings > 0 ? o_.max_ratings - batch_.size() : std::size_t{1000};
      auto got = read_round(want, wait);
      if (!got)
        return got.err();
      if (*got == 0 && end_seen_) {
        auto swept = claim_sweep();  // at the end, what dead consumers left is still ours
        if (!swept)
          return swept.err();
        if (*swept == 0) {
          ended_ = true;
          break;
        }
        continue;
      }
      if (drained_ && !end_seen_) {  // read everything there is: did the producer end it?
        auto key = on_conn([&] { return conn_->command({"EXISTS", o_.end_key}); });
        if (!key)
          return key.err();
        end_seen_ = key->integer_value > 0;  // set after the producer's last entry
      }
      if (*got == 0) {
        if (!end_seen_ && o_.idle_timeout.count() > 0
            && clock::now() - idle_since >= o_.idle_timeout) {
          ended_ = true;
          break;
        }
        continue;
      }
      idle_since = clock::now();
      if (!batch_.empty() && !batch_end && o_.interval.count() > 0)
        batch_end = clock::now() + o_.interval;
      if (o_.max_ratings > 0 && batch_.size() >= o_.max_ratings)
        break;
    }
    auto ids = std::exchange(batch_ids_, {});
    if (batch_.empty()) {  // only dead letters: nothing to train on
      ack(std::move(ids));
      if (ended_)
        return std::optional<rating_batch>{};
      return next();
    }
    auto b = std::exchange(batch_, {});
    b.position = id_text(*last_read_);
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
    return join();
  }

  /// Connects, logs in and joins the group (created at the stream's start if missing).
  result<void> join() {
    auto c = redis_client::connect(o_.at.server, std::chrono::seconds(5), o_.auth);
    if (!c)
      return c.err();
    auto r = c->command({"XGROUP", "CREATE", o_.at.stream, o_.group, "0", "MKSTREAM"});
    if (!r && r.err().message.find("BUSYGROUP") == std::string::npos)
      return r.err();
    conn_.emplace(std::move(*c));
    return {};
  }

  /// Runs `f` (a command on the reading connection); when the connection dropped, the
  /// server is still loading its data or lost the group (a restart), connects again and
  /// runs it once more.
  template <class F>
  auto on_conn(F&& f) -> decltype(f()) {
    if (!conn_)
      if (auto ok = join(); !ok)
        return ok.err();
    for (;;) {
      auto r = f();
      if (r)
        return r;
      const auto& why = r.err().message;
      if (!conn_->broken() && why.find("LOADING") == std::string::npos
          && why.find("NOGROUP") == std::string::npos)
        return r;
      if (auto ok = reconnect(r.err()); !ok)
        return ok.err();
    }
  }

  /// Connects again, pausing reconnect_first, doubling up to reconnect_max, for at most
  /// reconnect_limit; then reads the entries delivered to this consumer that it never saw.
  result<void> reconnect(const error& cause) {
    conn_.reset();
    o_.log(cause.message + "; connecting again");
    auto start = clock::now();
    auto pause = o_.reconnect_first;
    std::string last = cause.message;
    for (;;) {
      auto spent = std::chrono::duration_cast<milliseconds>(clock::now() - start);
      if (spent >= o_.reconnect_limit)
        return error{errc::io, name_ + ": gave up connecting again after "
                                 + std::to_string(spent.count()) + " ms (the limit is "
                                 + std::to_string(o_.reconnect_limit.count()) + " ms): " + last};
      std::this_thread::sleep_for(std::min(pause, o_.reconnect_limit - spent));
      pause = std::min(pause * 2, o_.reconnect_max);
      auto ok = join();
      if (ok)
        ok = read_history();
      if (ok) {
        ++reconnects_;
        o_.log(name_ + ": connected again after "
               + std::to_string(std::chrono::duration_cast<milliseconds>(clock::now() - start)
                                  .count())
               + " ms");
        return {};
      }
      last = ok.err().message;
      conn_.reset();
      if (last.find("WRONGPASS") != std::string::npos)  // the login is refused: no use trying
        return ok.err();
    }
  }

  /// The entries the group delivered to this consumer (XREADGROUP from id 0), the way
  /// XREADGROUP hands them over: those after the last one read were lost with a reply.
  result<void> read_history() {
    std::string from = "0";
    for (;;) {
      std::string last;
      auto r = conn_->command_raw({"XREADGROUP", "GROUP", o_.group, o_.consumer, "COUNT", "1000",
                                   "STREAMS", o_.at.stream, from},
                                  [&](const redisReply& reply) {
                                    take_reply(reply, read_kind::history, &last);
                                  });
      if (!r)
        return r;
      if (last.empty())
        return {};
      from = last;
    }
  }

  /// One round: stale entries of others when due, then new entries (waiting up to `wait`
  /// for them unless some were claimed). Returns how many entries it claimed and how many
  /// new ones the server delivered (0: nothing new anywhere).
  result<std::size_t> read_round(std::size_t want, milliseconds wait) {
    std::size_t took = 0;
    if (claim_due()) {
      auto c = claim(want);
      if (!c)
        return c;
      took = *c;
      if (took >= want)
        return took;
      want -= took;
      wait = milliseconds{0};
    }
    std::vector<std::string> args{"XREADGROUP", "GROUP", o_.group, o_.consumer, "COUNT",
                                  std::to_string(want)};
    if (wait.count() > 0) {
      args.push_back("BLOCK");
      args.push_back(std::to_string(wait.count()));
    }
    args.insert(args.end(), {"STREAMS", o_.at.stream, ">"});
    std::size_t returned = 0;
    auto r = on_conn([&]() -> result<void> {
      if (auto ok = conn_->set_timeout(wait + std::chrono::seconds(5)); !ok)
        return ok;
      return conn_->command_raw(args, [&](const redisReply& reply) {
        returned = take_reply(reply, read_kind::fresh, nullptr);
      });
    });
    if (!r)
      return r.err();
    flush_dead();
    drained_ = returned < want;
    caught_up_ = caught_up_ || drained_;
    return took + returned;
  }

  bool claim_due() const {
    return o_.claim_idle.count() > 0 && (last_read_ || caught_up_) && clock::now() >= next_claim_;
  }

  /// One XAUTOCLAIM step from the cursor: takes over up to `want` entries pending longer than
  /// claim_idle; returns how many were new to this reader.
  result<std::size_t> claim(std::size_t want) {
    std::size_t before = batch_ids_.size();
    std::string cursor;
    auto r = on_conn([&] {
      return conn_->command_raw(
        {"XAUTOCLAIM", o_.at.stream, o_.group, o_.consumer, std::to_string(o_.claim_idle.count()),
         claim_cursor_, "COUNT", std::to_string(std::max<std::size_t>(want, 1))},
        [&](const redisReply& reply) {  // [cursor, [[id, [f, v, ...]], ...], [deleted ids]]
          if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 2)
            return;
          if (reply.element[0]->type == REDIS_REPLY_STRING)
            cursor.assign(reply.element[0]->str, reply.element[0]->len);
          take_entries(*reply.element[1], read_kind::claimed, nullptr);
        });
    });
    if (!r)
      return r.err();
    flush_dead();
    claim_cursor_ = cursor.empty() ? "0-0" : cursor;
    auto every = std::max(o_.claim_idle / 2, milliseconds{100});
    next_claim_ = claim_cursor_ == "0-0" ? clock::now() + every : clock::now();
    auto n = batch_ids_.size() - before;
    claimed_ += n;
    return n;
  }

  /// Claims through the whole pending list; how many entries were new to this reader.
  result<std::size_t> claim_sweep() {
    if (o_.claim_idle.count() <= 0)
      return std::size_t{0};
    std::size_t n = 0;
    claim_cursor_ = "0-0";
    do {
      auto c = claim(1000);
      if (!c)
        return c;
      n += *c;
    } while (claim_cursor_ != "0-0");
    return n;
  }

  /// Takes the entries of an XREADGROUP reply ([[stream, [[id, [f, v, ...]], ...]]]);
  /// returns how many it held. `last`: the id of the last one.
  std::size_t take_reply(const redisReply& r, read_kind k, std::string* last) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements == 0)
      return 0;
    const auto* s = r.element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
      return 0;
    return take_entries(*s->element[1], k, last);
  }

  /// Takes the entries new to this reader into the batch (ratings) or the dead letters.
  std::size_t take_entries(const redisReply& entries, read_kind k, std::string* last) {
    std::vector<std::string_view> kv;
    std::size_t held = 0;
    for (std::size_t j = 0; j < entries.elements; ++j) {
      const auto* e = entries.element[j];
      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
        continue;
      ++held;
      std::string text(e->element[0]->str, e->element[0]->len);
      if (last)
        *last = text;
      auto id = parse_entry_id(text);
      auto take = id ? what_to_do(*id, text, k) : action::skip;
      if (take == action::skip)
        continue;
      batch_ids_.push_back(text);
      {
        std::lock_guard lock(m_);
        mine_.insert(text);
      }
      if (take == action::acknowledge)
        continue;
      last_read_ = std::max(last_read_.value_or(*id), *id);
      const auto* f = e->element[1];
      if (f->type != REDIS_REPLY_ARRAY)  // deleted since it was delivered: acknowledge only
        continue;
      kv.clear();
      for (std::size_t i = 0; i < f->elements; ++i)
        kv.emplace_back(f->element[i]->str ? f->element[i]->str : "", f->element[i]->len);
      std::string reason;
      if (auto ev = redis_detail::decode_entry(kv, f->elements % 2 == 0, o_.scale, reason, o_.kind))
        batch_.ratings.push_back(*ev);
      else
        dead_pending_.emplace_back(std::move(text), std::move(reason));
    }
    return held;
  }

  enum class action : std::uint8_t { skip, take, acknowledge };

  /// What to do with an entry: take it if this reader has not taken it yet (nothing is
  /// applied twice, nothing left out), or only acknowledge it.
  action what_to_do(entry_id id, const std::string& text, read_kind k) {
    bool after_last = !last_read_ || id > *last_read_;
    if (k == read_kind::fresh) {
      ahead_.erase(id);
      // Never skipped unless the server lost the group's position (a restart without fsync).
      return after_last ? action::take : action::skip;
    }
    if (k == read_kind::history)  // after the last one read: its reply was lost with the connection
      return last_read_ && after_last && !ahead_.contains(id) ? action::take : action::skip;
    {
      std::lock_guard lock(m_);
      if (mine_.contains(text))  // taken by this reader and not yet acknowledged
        return action::skip;
    }
    if (resumed_at_ && id <= *resumed_at_)  // the checkpoint resumed from has it
      return action::acknowledge;
    // A claimed entry after the last one read is delivered again by ">" after a resume
    // moved the group back; taken only once ">" has nothing more (then it never will).
    if (after_last && !caught_up_) {
      ahead_.insert(id);
      return action::skip;
    }
    return action::take;
  }

  /// Counts the dead letters of the last command and adds them to the dead-letter stream.
  void flush_dead() {
    auto dead = std::exchange(dead_pending_, {});
    for (auto& [id, reason] : dead) {
      o_.dead->add("entry " + id + ": " + reason);
      std::vector<std::string> args{"XADD", o_.dead_letter_stream};
      if (o_.dead_letter_max > 0)
        args.insert(args.end(), {"MAXLEN", "~", std::to_string(o_.dead_letter_max)});
      args.insert(args.end(), {"*", "id", id, "reason", reason});
      // Best effort: the count above is what the run reports.
      (void)on_conn([&] { return conn_->command(args); });
    }
  }

  /// XACK (on the acknowledging connection); the entries acknowledged are no longer this
  /// reader's to skip when claimed.
  void ack(std::vector<std::string> ids) {
    auto done = acks_.ack(std::move(ids));
    std::lock_guard lock(m_);
    for (const auto& id : done)
      mine_.erase(id);
  }

  redis_source_options o_;
  std::string name_;
  redis_detail::acknowledger acks_;        ///< the acknowledging connection
  std::optional<redis_client> conn_;
  // The reading thread's state.
  rating_batch batch_;                     ///< the batch being read
  std::vector<std::string> batch_ids_;     ///< the ids of its entries, dead letters too
  std::vector<std::pair<std::string, std::string>> dead_pending_;  ///< (entry id, reason)
  std::optional<entry_id> last_read_;      ///< the newest entry taken
  std::set<entry_id> ahead_;               ///< claimed after last_read_, not taken (yet)
  bool caught_up_ = false;                 ///< a ">" read has found the stream's end
  bool drained_ = false;                   ///< the last ">" read returned less than asked
  bool end_seen_ = false;                  ///< the end key is set
  bool ended_ = false;
  std::optional<entry_id> resumed_at_;     ///< the position resume_after() moved the group to
  std::string claim_cursor_ = "0-0";
  clock::time_point next_claim_{};
  // Shared with the acknowledging thread.
  std::mutex m_;
  std::deque<std::pair<std::string, std::vector<std::string>>> pending_;
  std::unordered_set<std::string> mine_;   ///< taken and not yet acknowledged
  std::atomic<std::uint64_t> reconnects_{0}, claimed_{0};
};

}  // namespace

std::shared_ptr<rating_source> redis_source(redis_source_options o) {
  return std::make_shared<redis_stream_source>(std::move(o));
}

}  // namespace recflow
