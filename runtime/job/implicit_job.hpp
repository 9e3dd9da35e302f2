/// Implicit ALS as `recflow batch --implicit` runs it: events held out by
/// leave-latest-out, the model trained on the rest, scored by HR@k and NDCG@k against
/// sampled negatives beside the popularity baseline, and the metadata of the saved model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "recflow/job/als_job.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/ranking.hpp"

namespace recflow {

/// What the run does, with defaults.
struct implicit_job_options {
  implicit_params als{};
  als_placement where{};  ///< the reference, the blocks of the graph here, or on nodes
  sampled_ranking_options ranking{};  ///< k, negatives, seed (the ranker is set per score)
  std::uint64_t split_seed = 42;      ///< leave-latest-out among ties
};

/// What it measured.
struct implicit_job_result {
  factor_model model;
  std::size_t train_events = 0;
  std::size_t held_out = 0;
  sampled_ranking_metrics ranking{};     ///< the model
  sampled_ranking_metrics popularity{};  ///< the popularity baseline, same negatives
  double train_seconds = 0.0;            ///< training alone (all sweeps)
};

/// Events split by leave-latest-out: each user's latest event (of users with at least
/// two) in `test`, the rest in `train`; both keep the id maps of all events.
struct latest_split {
  rating_table train;
  rating_table test;
};
latest_split hold_out_latest(const rating_table& events, std::uint64_t seed);

/// Holds out each user's latest event of `events` (one per (user, item) pair: see
/// read_events), trains implicit ALS on the rest and scores both the model and item
/// popularity on the held-out events. `on_sweep(iteration, objective)` after each sweep.
result<implicit_job_result> run_implicit_job(const rating_table& events,
                                             const implicit_job_options& o,
                                             const als_progress& on_sweep = {});

/// The same on a split already made: trains on `train` and ranks `held_out` (one event per
/// user, same id maps; o.split_seed unused).
result<implicit_job_result> train_and_rank(const rating_table& train, const rating_table& held_out,
                                           const implicit_job_options& o,
                                           const als_progress& on_sweep = {});

/// What a time split measured: the full-ranking metrics (every item the user has no
/// training event on is a candidate) of the model and of item popularity on the later
/// events.
struct implicit_time_split_result {
  factor_model model;
  std::size_t train_events = 0;
  std::size_t test_events = 0;
  ranking_metrics ranking{};     ///< the model
  ranking_metrics popularity{};  ///< item popularity (popularity_model), the same lists' length
  double train_seconds = 0.0;
};

/// Trains implicit ALS on the earliest 1 - `test_fraction` of `events` by timestamp
/// (time_split) and ranks every item for each user with later events: precision, recall,
/// NDCG and MAP at o.ranking.k, every later event relevant, the items of the user's
/// training events excluded. The lists' scans run through `run`. "time split must be
/// between 0 and 1 (exclusive), got 1" and friends.
result<implicit_time_split_result> run_implicit_time_split(const rating_table& events,
                                                           const implicit_job_options& o,
                                                           double test_fraction,
                                                           const task_runner& run = {},
                                                           const als_progress& on_sweep = {});

/// The saved model's metadata (trainer "implicit-als", the parameters, HR and NDCG).
model_metadata implicit_metadata(const implicit_job_options& o, const std::string& data,
                                 const implicit_job_result& r);
/// The same for any implicit trainer: `trainer`, the parameters `p` and the figures `r`.
model_metadata implicit_metadata(const std::string& trainer, const implicit_params& p,
                                 const std::string& data, const sampled_ranking_metrics& r);
/// The parameters alone, for a model not scored (yet).
model_metadata implicit_metadata(const std::string& trainer, const implicit_params& p,
                                 const std::string& data);
/// The saved model's metadata after a time split (trainer "implicit-als", the parameters,
/// `test_fraction` and the model's full-ranking figures at k; no sampled HR).
model_metadata implicit_metadata(const implicit_job_options& o, const std::string& data,
                                 double test_fraction, const implicit_time_split_result& r);

/// "cholesky" or "cg"; and the reverse (nothing for another word).
const char* to_string(implicit_solver s) noexcept;
std::optional<implicit_solver> parse_implicit_solver(const std::string& s) noexcept;
/// "linear" or "log"; and the reverse.
const char* to_string(confidence_form f) noexcept;
std::optional<confidence_form> parse_confidence_form(const std::string& s) noexcept;
/// "none", "bm25" or "tfidf"; and the reverse.
const char* to_string(event_weighting w) noexcept;
std::optional<event_weighting> parse_event_weighting(const std::string& s) noexcept;

}  // namespace recflow
