// POST /ratings: validate the body, fold new users in at once, pass the ratings on to the
// stream (when there is one).
#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "recflow/serve/service.hpp"

namespace recflow::serve {

using json = nlohmann::json;

namespace {

answer fail(int status, std::string message) {
  return {status, json{{"error", std::move(message)}}.dump(-1, ' ', false, json::error_handler_t::replace)};
}

std::optional<std::int64_t> as_id(const json& j) {
  if (j.is_number_unsigned()) {
    auto v = j.get<std::uint64_t>();
    if (v > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (j.is_number_integer())
    return j.get<std::int64_t>();
  return std::nullopt;
}

}  // namespace

answer query_service::post_ratings(std::string_view body) {
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded())
    return fail(400, "body is not JSON");
  // Accepted shapes: {"user": U, "ratings": [{"item": I, "rating": R}, ...]},
  // {"ratings": [{"user": U, "item": I, "rating": R}, ...]}, one such rating object,
  // or an array of them. "timestamp" (seconds) is optional everywhere.
  std::optional<std::int64_t> default_user;
  const json* list = nullptr;
  json single = json::array();
  if (doc.is_object() && doc.contains("ratings")) {
    list = &doc["ratings"];
    if (doc.contains("user")) {
      default_user = as_id(doc["user"]);
      if (!default_user)
        return fail(400, "'user' must be an integer id");
    }
  } else if (doc.is_object()) {
    single.push_back(doc);
    list = &single;
  } else if (doc.is_array()) {
    list = &doc;
  }
  if (!list || !list->is_array())
    return fail(400, "expected {\"user\": U, \"ratings\": [{\"item\": I, \"rating\": R}, ...]}");
  if (list->empty())
    return fail(400, "no ratings");
  if (list->size() > opts_.max_ratings_per_post)
    return fail(413, "more than " + std::to_string(opts_.max_ratings_per_post) + " ratings in one post");
  auto snap = snapshot();
  if (!snap)
    return fail(503, "no model yet");
  const auto scale = snap->model->scale();
  std::vector<rating_event> events;
  events.reserve(list->size());
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  for (std::size_t k = 0; k < list->size(); ++k) {
    const auto& r = (*list)[k];
    auto where = "rating " + std::to_string(k) + ": ";
    if (!r.is_object())
      return fail(400, where + "not an object");
    auto user = r.contains("user") ? as_id(r["user"]) : default_user;
    if (!user)
      return fail(400, where + "'user' missing or not an integer id");
    auto item = r.contains("item") ? as_id(r["item"]) : std::nullopt;
    if (!item)
      return fail(400, where + "'item' missing or not an integer id");
    if (!r.contains("rating") || !r["rating"].is_number())
      return fail(400, where + "'rating' missing or not a number");
    double v = r["rating"].get<double>();
    if (snap->implicit && !(v > 0.0 && v <= double(std::numeric_limits<float>::max())))
      return fail(400, where + "event weight " + r["rating"].dump()
                         + " must be positive and finite (an implicit model)");
    if (!snap->implicit && (!std::isfinite(v) || !scale.contains(v)))
      return fail(400, where + "rating " + r["rating"].dump() + " is outside the scale "
                         + json(scale.min).dump() + ".." + json(scale.max).dump());
    std::int64_t ts = now;
    if (r.contains("timestamp")) {
      auto t = as_id(r["timestamp"]);
      if (!t)
        return fail(400, where + "'timestamp' must be an integer (seconds)");
      ts = *t;
    }
    events.push_back({*user, *item, static_cast<float>(v), ts});
  }

  std::lock_guard lock(write_);
  auto cur = current_.load();
  const auto& m = *cur->model;
  std::map<std::int64_t, std::vector<item_rating>> by_user;
  for (const auto& e : events)
    by_user[e.user].push_back({e.item, e.value});
  // The bounds, before anything changes: the training queue, then the new ids.
  bool queued = static_cast<bool>(sink_);
  if (queued && opts_.max_pending > 0 && pending_) {
    auto waiting = pending_();
    if (waiting + events.size() > opts_.max_pending) {
      auto a = fail(503, "the training queue is full (" + std::to_string(waiting)
                           + " posted ratings wait for the next batch; at most "
                           + std::to_string(opts_.max_pending) + ")");
      a.retry_after = 1;
      return a;
    }
  }
  if (opts_.max_new_ids_per_minute > 0) {
    std::size_t fresh = 0;
    for (const auto& [user, rs] : by_user)
      fresh += !cur->posted->count(user) && !m.user_known(m.users().find(user));
    std::vector<std::int64_t> items;
    for (const auto& e : events)
      if (!m.item_known(m.items().find(e.item)))
        items.push_back(e.item);
    std::sort(items.begin(), items.end());
    fresh += static_cast<std::size_t>(std::unique(items.begin(), items.end()) - items.begin());
    auto now_t = std::chrono::steady_clock::now();
    if (now_t - new_ids_window_ >= std::chrono::minutes(1)) {
      new_ids_window_ = now_t;
      new_ids_in_window_ = 0;
    }
    if (fresh > 0 && new_ids_in_window_ + fresh > opts_.max_new_ids_per_minute) {
      auto left = std::chrono::minutes(1) - (now_t - new_ids_window_);
      auto a = fail(429, "too many new ids: " + std::to_string(new_ids_in_window_)
                           + " users and items unknown to the model accepted this minute, at most "
                           + std::to_string(opts_.max_new_ids_per_minute) + "; this post has "
                           + std::to_string(fresh));
      a.retry_after = std::max(1, static_cast<int>(std::chrono::ceil<std::chrono::seconds>(left).count()));
      return a;
    }
    new_ids_in_window_ += fresh;
  }
  auto posted = std::make_shared<posted_users>(*cur->posted);  // shares all but what it changes
  json users = json::array();
  std::vector<std::pair<std::uint64_t, std::int64_t>> replaced;  // (their previous post, user)
  auto seq = post_seq_;
  for (auto& [user, rs] : by_user) {
    auto next = std::make_shared<posted_user>();
    if (const auto* before = posted->find(user)) {
      *next = *before;
      replaced.emplace_back(next->last_post, user);
    } else {
      next->fold = !m.user_known(m.users().find(user));
    }
    next->last_post = ++seq;
    next->ratings.insert(next->ratings.end(), rs.begin(), rs.end());
    if (opts_.max_posted_per_user > 0 && next->ratings.size() > opts_.max_posted_per_user)
      next->ratings.erase(next->ratings.begin(),
                          next->ratings.end() - static_cast<std::ptrdiff_t>(opts_.max_posted_per_user));
    if (next->fold) {
      auto f = fold(*cur, next->ratings);
      if (!f)
        return fail(400, "user " + std::to_string(user) + ": " + f.err().message);
      next->folded = std::move(*f);
      next->solved_version = cur->version;
    }
    users.push_back(json{{"user", user},
                         {"ratings", next->ratings.size()},
                         {"folded_in", next->fold},
                         {"ratings_used", next->fold ? next->folded.used : 0}});
    posted->set(user, std::move(next));
  }
  for (const auto& [previous, user] : replaced)
    lru_.erase(previous);
  for (const auto& [user, rs] : by_user)
    lru_.emplace(++post_seq_, user);
  // The least recently posted users go first (those of this post only if it alone has
  // more users than the bound).
  while (opts_.max_posted_users > 0 && posted->size() > opts_.max_posted_users && !lru_.empty()) {
    posted->erase(lru_.begin()->second);
    lru_.erase(lru_.begin());
    evicted_users_.fetch_add(1, std::memory_order_relaxed);
  }
  auto s = std::make_shared<serving_snapshot>(*cur);
  s->posted = std::move(posted);
  current_.store(std::move(s));
  auto n = events.size();
  posted_ratings_.fetch_add(n, std::memory_order_relaxed);
  if (queued)
    sink_(std::move(events));
  return {queued ? 202 : 200, json{{"accepted", n},
                                   {"queued_for_training", queued},
                                   {"version", cur->version},
                                   {"users", users}}.dump()};
}

}  // namespace recflow::serve
