#include "recflow/serve/service.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>

#include <nlohmann/json.hpp>

#include "recflow/model/model_io.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/similar.hpp"
#include "recflow/model/top_n.hpp"
#include "recflow/serve/request.hpp"

namespace recflow::serve {

using json = nlohmann::json;

namespace {

/// Bytes that are not UTF-8 (say, a percent-decoded id echoed in an error) become U+FFFD
/// instead of making dump() throw.
answer reply(int status, const json& j) {
  return {status, j.dump(-1, ' ', false, json::error_handler_t::replace)};
}
answer fail(int status, std::string message) { return reply(status, json{{"error", std::move(message)}}); }

const char* source_name(prediction_source s) {
  switch (s) {
    case prediction_source::full: return "full";
    case prediction_source::user_bias: return "user_bias";
    case prediction_source::item_bias: return "item_bias";
    case prediction_source::mean: return "mean";
  }
  return "mean";
}

json items_json(const std::vector<scored_item>& items) {
  auto out = json::array();
  for (const auto& s : items)
    out.push_back(json{{"item", s.external_id}, {"score", s.score}});
  return out;
}

}  // namespace

result<void> validate(const service_options& o) {
  if (o.max_n == 0)
    return error{errc::invalid_argument, "max n must be positive, got 0"};
  if (o.max_ratings_per_post == 0)
    return error{errc::invalid_argument, "max ratings per post must be positive, got 0"};
  return validate(o.fold_in);
}

std::optional<implicit_params> implicit_fold_in_params(
  const std::vector<std::pair<std::string, std::string>>& metadata) {
  const model_metadata meta{metadata};
  const auto trainer = meta.get("trainer");
  if (trainer != "implicit-als" && trainer != "implicit-stream")  // batch or streaming
    return std::nullopt;
  implicit_params p;
  auto number = [&](std::string_view key, double& into) {
    const auto v = meta.get(key);
    if (!v)
      return;
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    if (end != v->c_str() && *end == '\0' && std::isfinite(d))
      into = d;
  };
  number("alpha", p.alpha);
  number("lambda", p.lambda);
  number("lambda_exponent", p.lambda_exponent);
  number("epsilon", p.epsilon);
  number("missing_exponent", p.missing_exponent);
  number("recency_boost", p.recency_boost);
  if (meta.get("confidence") == "log")
    p.confidence = confidence_form::log;
  p.solver = implicit_solver::cholesky;  // a fold-in solves exactly
  return p;
}

query_service::query_service(service_options o,
                             std::vector<std::pair<std::string, std::string>> metadata)
    : opts_(o), metadata_(std::move(metadata)), implicit_(implicit_fold_in_params(metadata_)) {}

namespace {
/// An implicit model's fold-in solver: the Gram matrix of its item factors, with the
/// missing pairs weighted as the trainer weighted them (by the items' event counts).
std::shared_ptr<const implicit_als_solver> implicit_solver_for(const factor_model& m,
                                                               implicit_params p) {
  p.rank = m.rank();
  auto solver = std::make_shared<implicit_als_solver>(p);
  if (p.missing_exponent == 0.0)
    solver->prepare(m.P());  // every missing pair weighs 1, as train_implicit_als then does
  else
    solver->prepare(m.P(), missing_weights(m.item_count(), p.missing_exponent));
  return solver;
}
}  // namespace

void query_service::publish(std::shared_ptr<const factor_model> m, std::uint64_t version,
                            std::uint64_t ratings_seen) {
  auto scan = m ? std::make_shared<const item_scan_table>(item_scan_table::build(*m)) : nullptr;
  auto implicit = m && implicit_ ? implicit_solver_for(*m, *implicit_) : nullptr;
  std::lock_guard lock(write_);
  auto s = std::make_shared<serving_snapshot>();
  auto old = current_.load();
  s->model = std::move(m);
  s->scan = std::move(scan);
  s->version = version;
  s->ratings_seen = ratings_seen;
  s->posted = old ? old->posted : std::make_shared<const posted_users>();
  s->implicit = std::move(implicit);
  s->published = std::chrono::system_clock::now();
  current_.store(std::move(s));
}

void query_service::set_rating_sink(rating_sink sink, std::function<std::size_t()> pending) {
  std::lock_guard lock(write_);
  sink_ = std::move(sink);
  pending_ = sink_ ? std::move(pending) : std::function<std::size_t()>{};
}

namespace {
/// Index of a status in the counters: 2xx, 4xx, 5xx (others: -1).
int status_slot(int status) noexcept {
  switch (status / 100) {
    case 2: return 0;
    case 4: return 1;
    case 5: return 2;
  }
  return -1;
}
}  // namespace

std::uint64_t query_service::answered(int status_class) const noexcept {
  int k = status_slot(status_class);
  return k >= 0 ? answered_[k].load() : 0;
}

result<folded_user> query_service::fold(const serving_snapshot& s,
                                         std::span<const item_rating> posted) const {
  if (s.implicit)
    return fold_in_events(*s.model, posted, *s.implicit);
  return fold_in(*s.model, posted, opts_.fold_in);
}

folded_user query_service::folded_for(const serving_snapshot& s, const posted_user& p) const {
  if (p.solved_version == s.version)
    return p.folded;
  auto f = fold(s, p.ratings);
  return f ? std::move(*f) : folded_user{};
}

answer query_service::handle(std::string_view method, std::string_view target_text,
                             std::string_view body) {
  answer a;
  try {
    a = [&]() -> answer {
      auto t = target::parse(target_text);
      if (!t)
        return fail(400, t.err().message);
      const auto& path = t->path;
      bool get = method == "GET";
      auto need_get = [&]() { return fail(405, "use GET for " + path); };
      if (path == "/health")
        return get ? health() : need_get();
      if (path == "/model")
        return get ? model_info() : need_get();
      if (path == "/ratings")
        return method == "POST" ? post_ratings(body) : fail(405, "use POST for /ratings");
      if (path != "/predict" && path != "/recommend" && path != "/similar")
        return fail(404, "no route " + path
                           + " (GET /predict, /recommend, /similar, /health, /model; POST /ratings)");
      if (!get)
        return need_get();
      auto snap = snapshot();
      if (!snap)
        return fail(503, "no model yet");
      auto id = [&](const char* key) -> result<std::int64_t> {
        auto v = t->get(key);
        if (!v)
          return error{errc::invalid_argument, std::string("missing parameter '") + key + "'"};
        auto x = parse_int64(*v);
        if (!x)
          return error{errc::invalid_argument, std::string("parameter '") + key
                                                 + "' must be an integer id, got '"
                                                 + std::string(v->substr(0, 40)) + "'"};
        return *x;
      };
      auto count = [&]() -> result<std::size_t> {
        auto v = t->get("n");
        if (!v)
          return std::size_t(10);
        auto x = parse_int64(*v);
        if (!x || *x < 1 || std::uint64_t(*x) > opts_.max_n)
          return error{errc::invalid_argument, "parameter 'n' must be an integer in 1.."
                                                 + std::to_string(opts_.max_n)};
        return static_cast<std::size_t>(*x);
      };
      if (path == "/predict") {
        auto user = id("user");
        auto item = id("item");
        if (!user || !item)
          return fail(400, (!user ? user.err() : item.err()).message);
        return predict(*snap, *user, *item);
      }
      auto n = count();
      if (!n)
        return fail(400, n.err().message);
      if (path == "/similar") {
        auto item = id("item");
        if (!item)
          return fail(400, item.err().message);
        return similar(*snap, *item, *n);
      }
      auto user = id("user");
      if (!user)
        return fail(400, user.err().message);
      std::optional<std::vector<std::int64_t>> only;
      if (auto list = t->get("items")) {
        auto ids = parse_id_list(*list, opts_.max_filter_items);
        if (!ids)
          return fail(400, "parameter 'items': " + ids.err().message);
        only = std::move(*ids);
      }
      bool include_rated = false;
      if (auto v = t->get("include_rated")) {
        if (*v == "true" || *v == "1")
          include_rated = true;
        else if (*v != "false" && *v != "0")
          return fail(400, "parameter 'include_rated' must be true or false");
      }
      return recommend(*snap, *user, *n, only ? &*only : nullptr, include_rated);
    }();
  } catch (const std::exception& e) {
    try {
      a = fail(500, std::string("internal error: ") + e.what());
    } catch (...) {  // out of memory again: a body short enough to need no allocation
      a = answer{500, "{\"error\":\"oom\"}"};
    }
  } catch (...) {
    a = answer{500, "{\"error\":\"?\"}"};
  }
  if (int k = status_slot(a.status); k >= 0)
    answered_[k].fetch_add(1, std::memory_order_relaxed);
  return a;
}

answer query_service::predict(const serving_snapshot& s, std::int64_t user,
                              std::int64_t item) const {
  const auto& m = *s.model;
  json j{{"user", user}, {"item", item}, {"version", s.version}};
  const auto* p = s.posted->find(user);
  if (p && p->fold) {
    auto f = folded_for(s, *p);
    j["prediction"] = predict_folded(m, f, item);
    j["source"] = f.used > 0 ? "fold_in" : "cold_start";
    return reply(200, j);
  }
  prediction_source src{};
  j["prediction"] = m.predict_external(user, item, &src);
  j["source"] = source_name(src);
  return reply(200, j);
}

answer query_service::recommend(const serving_snapshot& s, std::int64_t user, std::size_t n,
                                const std::vector<std::int64_t>* only, bool include_rated) const {
  const auto& m = *s.model;
  std::vector<index_t> candidates;
  if (only) {
    for (auto id : *only)
      if (auto i = m.items().find(id); i != id_map::npos)
        candidates.push_back(i);
    if (candidates.empty())  // none known: nothing to rank
      return reply(200, json{{"user", user}, {"version", s.version}, {"source", "model"},
                             {"items", json::array()}});
  }
  recommend_options o{.n = n, .exclude_rated = !include_rated, .candidates = candidates, .scan = s.scan.get()};
  json j{{"user", user}, {"version", s.version}};
  const posted_user* posted = s.posted->find(user);
  if (posted && posted->fold) {
    auto f = folded_for(s, *posted);
    j["source"] = f.used > 0 ? "fold_in" : "cold_start";
    j["items"] = items_json(recommend_folded(m, f, o));
    return reply(200, j);
  }
  auto u = m.users().find(user);
  if (!m.user_known(u)) {
    j["source"] = "cold_start";
    j["items"] = items_json(cold_start_items(m, o, {}, opts_.cold_start));
    return reply(200, j);
  }
  // Excluded: what the model says the user rated, and what they posted since (not yet
  // trained on).
  std::vector<index_t> excluded;
  if (!include_rated) {
    auto rated = m.rated().of(u);
    excluded.assign(rated.begin(), rated.end());
    if (posted)
      for (const auto& r : posted->ratings)
        if (auto i = m.items().find(r.item); i != id_map::npos)
          excluded.push_back(i);
    std::sort(excluded.begin(), excluded.end());
  }
  auto row = m.U().row(u);
  auto top = scan_top_n(m, std::span<const float>(row.data(), std::size_t(m.rank())),
                        m.mu() + m.user_bias()[u], excluded, n, candidates, s.scan.get());
  j["source"] = "model";
  j["items"] = items_json(top);
  return reply(200, j);
}

answer query_service::similar(const serving_snapshot& s, std::int64_t item, std::size_t n) const {
  const auto& m = *s.model;
  auto i = m.items().find(item);
  if (!m.item_known(i))
    return fail(404, "unknown item " + std::to_string(item));
  return reply(200, json{{"item", item}, {"version", s.version},
                         {"items", items_json(similar_items(m, i, n, s.scan.get()))}});
}

answer query_service::health() const {
  auto s = snapshot();
  return reply(200, json{{"status", s ? "ok" : "starting"},
                         {"version", s ? s->version : 0},
                         {"training", training_.load()}});
}

answer query_service::model_info() const {
  auto s = snapshot();
  if (!s)
    return fail(503, "no model yet");
  const auto& m = *s->model;
  std::size_t known_users = 0, known_items = 0;
  for (index_t u = 0; u < m.n_users(); ++u)
    known_users += m.user_known(u);
  for (index_t i = 0; i < m.n_items(); ++i)
    known_items += m.item_known(i);
  const auto folded = s->posted->folded();
  json meta = json::object();
  for (const auto& [k, v] : metadata_)
    if (opts_.show_paths || (k != "file" && k != "data" && k != "init_model"))
      meta[k] = v;
  auto since = [](auto t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  return reply(200, json{
    {"version", s->version},
    {"ratings_seen", s->ratings_seen},
    {"training", training_.load()},
    {"rank", m.rank()},
    {"users", known_users},
    {"items", known_items},
    {"mu", m.mu()},
    {"scale", {{"min", m.scale().min}, {"max", m.scale().max}}},
    {"posted_users", s->posted->size()},
    {"posted_users_evicted", evicted_users_.load()},
    {"folded_users", folded},
    {"published_at", since(s->published)},
    {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()},
    {"requests", {{"2xx", answered_[0].load()}, {"4xx", answered_[1].load()}, {"5xx", answered_[2].load()}}},
    {"metadata", meta}});
}

}  // namespace recflow::serve
