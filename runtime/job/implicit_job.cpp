#include "recflow/job/implicit_job.hpp"

#include <chrono>

#include <fmt/format.h>

#include "recflow/model/split.hpp"

namespace recflow {

latest_split hold_out_latest(const rating_table& events, std::uint64_t seed) {
  auto parts = leave_latest_out(events.ratings, seed);
  return {events.with_ratings(std::move(parts.train)), events.with_ratings(std::move(parts.test))};
}

result<implicit_job_result> run_implicit_job(const rating_table& events,
                                             const implicit_job_options& o,
                                             const als_progress& on_sweep) {
  auto split = hold_out_latest(events, o.split_seed);
  return train_and_rank(split.train, split.test, o, on_sweep);
}

result<implicit_time_split_result> run_implicit_time_split(const rating_table& events,
                                                           const implicit_job_options& o,
                                                           double test_fraction,
                                                           const task_runner& run,
                                                           const als_progress& on_sweep) {
  if (!(test_fraction > 0.0 && test_fraction < 1.0))
    return error{errc::invalid_argument, "time split must be between 0 and 1 (exclusive), got "
                                           + fmt::format("{}", test_fraction)};
  if (auto ok = validate(o.als); !ok)
    return ok.err();
  if (auto ok = validate(o.ranking); !ok)
    return ok.err();
  auto parts = time_split(events.ratings, 1.0 - test_fraction);
  implicit_time_split_result r;
  r.train_events = parts.train.size();
  r.test_events = parts.test.size();
  const auto t0 = std::chrono::steady_clock::now();
  auto model = train_implicit_als_job(events.with_ratings(std::move(parts.train)), o.als, o.where,
                                      on_sweep);
  if (!model)
    return model.err();
  r.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.model = std::move(*model);
  // Every later event is relevant: weights are positive.
  const ranking_options full{.k = o.ranking.k, .relevance = 0.0};
  r.ranking = evaluate_ranking(r.model, parts.test, events.users, events.items, full, run);
  r.popularity = evaluate_ranking(popularity_model(r.model), parts.test, events.users,
                                  events.items, full, run);
  return r;
}

result<implicit_job_result> train_and_rank(const rating_table& train, const rating_table& held_out,
                                           const implicit_job_options& o,
                                           const als_progress& on_sweep) {
  if (auto ok = validate(o.als); !ok)
    return ok.err();
  if (auto ok = validate(o.ranking); !ok)
    return ok.err();
  implicit_job_result r;
  r.train_events = train.size();
  r.held_out = held_out.size();
  const auto t0 = std::chrono::steady_clock::now();
  auto model = train_implicit_als_job(train, o.als, o.where, on_sweep);
  if (!model)
    return model.err();
  r.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.model = std::move(*model);
  const auto& test = held_out;
  auto ranking = o.ranking;
  ranking.ranker = sampled_ranker::model;
  r.ranking = evaluate_sampled_ranking(r.model, test.ratings, test.users, test.items, ranking);
  ranking.ranker = sampled_ranker::popularity;
  r.popularity = evaluate_sampled_ranking(r.model, test.ratings, test.users, test.items, ranking);
  return r;
}

model_metadata implicit_metadata(const implicit_job_options& o, const std::string& data,
                                 const implicit_job_result& r) {
  return implicit_metadata("implicit-als", o.als, data, r.ranking);
}

model_metadata implicit_metadata(const std::string& trainer, const implicit_params& p,
                                 const std::string& data) {
  model_metadata meta;
  meta.set("trainer", trainer);
  meta.set("recflow_version", RECFLOW_VERSION);
  meta.set("data", data);
  meta.set("rank", std::to_string(p.rank));
  meta.set("iterations", std::to_string(p.iterations));
  meta.set("lambda", fmt::format("{}", p.lambda));
  meta.set("lambda_exponent", fmt::format("{}", p.lambda_exponent));
  meta.set("alpha", fmt::format("{}", p.alpha));
  meta.set("confidence", to_string(p.confidence));
  meta.set("epsilon", fmt::format("{}", p.epsilon));
  meta.set("weighting", to_string(p.weighting));
  meta.set("bm25_k1", fmt::format("{}", p.bm25_k1));
  meta.set("bm25_b", fmt::format("{}", p.bm25_b));
  meta.set("missing_exponent", fmt::format("{}", p.missing_exponent));
  meta.set("recency_boost", fmt::format("{}", p.recency_boost));
  meta.set("recency_half_life", fmt::format("{}", p.recency_half_life));
  meta.set("solver", to_string(p.solver));
  meta.set("cg_steps", std::to_string(p.cg_steps));
  meta.set("seed", std::to_string(p.seed));
  return meta;
}

model_metadata implicit_metadata(const implicit_job_options& o, const std::string& data,
                                 double test_fraction, const implicit_time_split_result& r) {
  auto meta = implicit_metadata("implicit-als", o.als, data);
  const auto k = r.ranking.k;
  meta.set("time_split", fmt::format("{}", test_fraction));
  meta.set(fmt::format("precision_at_{}", k), fmt::format("{:.6f}", r.ranking.precision));
  meta.set(fmt::format("recall_at_{}", k), fmt::format("{:.6f}", r.ranking.recall));
  meta.set(fmt::format("ndcg_at_{}", k), fmt::format("{:.6f}", r.ranking.ndcg));
  meta.set(fmt::format("map_at_{}", k), fmt::format("{:.6f}", r.ranking.map));
  return meta;
}

model_metadata implicit_metadata(const std::string& trainer, const implicit_params& p,
                                 const std::string& data, const sampled_ranking_metrics& r) {
  auto meta = implicit_metadata(trainer, p, data);
  meta.set(fmt::format("hr_at_{}", r.k), fmt::format("{:.6f}", r.hit_rate));
  meta.set(fmt::format("ndcg_at_{}", r.k), fmt::format("{:.6f}", r.ndcg));
  return meta;
}

const char* to_string(implicit_solver s) noexcept {
  return s == implicit_solver::cg ? "cg" : "cholesky";
}

std::optional<implicit_solver> parse_implicit_solver(const std::string& s) noexcept {
  if (s == "cholesky") return implicit_solver::cholesky;
  if (s == "cg") return implicit_solver::cg;
  return std::nullopt;
}

const char* to_string(confidence_form f) noexcept {
  return f == confidence_form::log ? "log" : "linear";
}

std::optional<confidence_form> parse_confidence_form(const std::string& s) noexcept {
  if (s == "linear") return confidence_form::linear;
  if (s == "log") return confidence_form::log;
  return std::nullopt;
}

const char* to_string(event_weighting w) noexcept {
  switch (w) {
    case event_weighting::bm25: return "bm25";
    case event_weighting::tfidf: return "tfidf";
    default: return "none";
  }
}

std::optional<event_weighting> parse_event_weighting(const std::string& s) noexcept {
  if (s == "none") return event_weighting::none;
  if (s == "bm25") return event_weighting::bm25;
  if (s == "tfidf") return event_weighting::tfidf;
  return std::nullopt;
}

}  // namespace recflow
