#include "recflow/tune/tune_problem.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>

#include "recflow/model/stream_eval.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

/// ALS sweeps for a budget fraction of `full`.
int iterations_for(double fraction, int full) {
  return std::max(1, static_cast<int>(std::lround(fraction * full)));
}

/// Ratings streamed for a budget fraction of `n` (the newest ones).
std::size_t ratings_for(double fraction, std::size_t n) {
  return std::min(n, std::max<std::size_t>(1, static_cast<std::size_t>(
                                                std::llround(fraction * double(n)))));
}

trial_score score(const factor_model& m, const rating_table& validation) {
  auto e = evaluate(m, validation);
  return {e.rmse * e.rmse * double(e.count), e.count};  // squared errors (loss_kind::rmse)
}

/// Streams `ratings` (already in stream order) through a fresh trainer in batches.
result<factor_model> stream_train(const stream_settings& s, std::span<const rating> ratings,
                                  const rating_table& ids) {
  auto trainer = streaming_trainer::make(s.params, ids.scale);
  if (!trainer)
    return trainer.err();
  for (std::size_t at = 0; at < ratings.size(); at += s.batch_size) {
    auto batch = ratings.subspan(at, std::min(s.batch_size, ratings.size() - at));
    if (auto ok = trainer->apply(batch, ids.users, ids.items); !ok)
      return ok.err();
  }
  return std::move(trainer->model());
}

}  // namespace

result<std::vector<tune_fold>> validation_folds(const rating_table& train,
                                                double validation_fraction, int folds,
                                                std::uint64_t seed) {
  if (train.ratings.size() < 2)
    return invalid("tuning needs at least 2 training ratings, got "
                   + std::to_string(train.ratings.size()));
  std::vector<tune_fold> out;
  if (folds >= 2) {
    if (static_cast<std::size_t>(folds) > train.ratings.size())
      return invalid("--folds " + std::to_string(folds) + " is more than the "
                     + std::to_string(train.ratings.size()) + " training ratings");
    for (int f = 0; f < folds; ++f) {
      auto parts = k_fold(train.ratings, folds, f, seed);
      out.push_back({train.with_ratings(std::move(parts.train)),
                     train.with_ratings(std::move(parts.test))});
    }
    return out;
  }
  if (!(validation_fraction > 0.0 && validation_fraction < 1.0))
    return invalid("validation fraction must lie strictly between 0 and 1, got "
                   + std::to_string(validation_fraction));
  auto parts = random_split(train.ratings, 1.0 - validation_fraction, seed);
  if (parts.train.empty() || parts.test.empty())
    return invalid("holding out " + std::to_string(validation_fraction) + " of "
                   + std::to_string(train.ratings.size())
                   + " ratings leaves one side empty");
  out.push_back({train.with_ratings(std::move(parts.train)),
                 train.with_ratings(std::move(parts.test))});
  return out;
}

result<tune_fold> window_fold(const rating_table& train, std::size_t window,
                              double validation_fraction, stream_order order,
                              std::uint64_t seed) {
  if (!(validation_fraction > 0.0 && validation_fraction < 1.0))
    return invalid("validation fraction must lie strictly between 0 and 1, got "
                   + std::to_string(validation_fraction));
  auto stream = train.ratings;
  order_ratings(stream, order, seed);
  if (window > 0 && window < stream.size())
    stream.erase(stream.begin(), stream.end() - static_cast<std::ptrdiff_t>(window));
  auto n_val = static_cast<std::size_t>(std::llround(validation_fraction * double(stream.size())));
  if (n_val == 0 || n_val >= stream.size())
    return invalid("a window of " + std::to_string(stream.size()) + " ratings with "
                   + std::to_string(validation_fraction)
                   + " held out leaves nothing to stream or to score");
  std::vector<rating> older(stream.begin(), stream.end() - static_cast<std::ptrdiff_t>(n_val));
  std::vector<rating> newest(stream.end() - static_cast<std::ptrdiff_t>(n_val), stream.end());
  return tune_fold{train.with_ratings(std::move(older)), train.with_ratings(std::move(newest))};
}

result<tune_fold> latest_fold(const rating_table& train, std::uint64_t seed) {
  auto parts = leave_latest_out(train.ratings, seed);
  if (parts.test.empty())
    return invalid("tuning holds out each user's latest training event, but no user has two "
                   "training events (" + std::to_string(train.ratings.size()) + " events)");
  return tune_fold{train.with_ratings(std::move(parts.train)),
                   train.with_ratings(std::move(parts.test))};
}

candidate default_candidate(const tune_problem& p) {
  switch (p.space.mode) {
    case tune_mode::batch: return default_candidate(p.space, p.als);
    case tune_mode::stream: return default_candidate(p.space, p.stream);
    case tune_mode::implicit: return default_candidate(p.space, p.implicit);
  }
  return {};
}

result<void> check_space(const tune_problem& p) {
  candidate base = default_candidate(p);
  auto check = [&](const candidate& c) -> result<void> {
    if (p.space.mode == tune_mode::batch)
      return validate(apply(p.space, c, p.als));
    if (p.space.mode == tune_mode::implicit)
      return validate(apply(p.space, c, p.implicit));
    auto s = apply(p.space, c, p.stream);
    if (auto ok = validate(s.params); !ok)
      return ok;
    return validate(stream_eval_options{.batch_size = s.batch_size});
  };
  for (std::size_t k = 0; k < p.space.params.size(); ++k) {
    const auto& spec = p.space.params[k];
    auto values = spec.values.empty() ? std::vector<double>{spec.lo, spec.hi} : spec.values;
    for (double v : values) {
      auto c = base;
      c.values[k] = v;
      auto ok = check(c);
      if (!ok)
        return invalid("--param " + to_string(spec) + ": " + ok.err().message);
    }
  }
  return {};
}

tune_objective make_objective(const tune_problem& p) {
  tune_objective o;
  o.folds = p.folds.size();
  if (p.space.mode == tune_mode::batch) {
    o.work_unit = "rating-sweeps (training ratings x ALS iterations)";
    o.evaluate = [&p](const candidate& c, double fraction, std::size_t fold) -> result<trial_score> {
      auto params = apply(p.space, c, p.als);
      params.iterations = iterations_for(fraction, p.als.iterations);
      auto model = train_als(p.folds[fold].train, params);
      if (!model)
        return model.err();
      return score(*model, p.folds[fold].validation);
    };
    o.work = [&p](const candidate&, double fraction, std::size_t fold) {
      return std::uint64_t(iterations_for(fraction, p.als.iterations)) * p.folds[fold].train.size();
    };
  } else if (p.space.mode == tune_mode::implicit) {
    o.loss = loss_kind::mean;
    o.loss_name = "1 - HR@" + std::to_string(p.ranking.k);
    o.work_unit = "event-sweeps (training events x ALS iterations)";
    o.evaluate = [&p](const candidate& c, double fraction, std::size_t fold) -> result<trial_score> {
      const auto& f = p.folds[fold];
      auto params = apply(p.space, c, p.implicit);
      params.iterations = iterations_for(fraction, p.implicit.iterations);
      auto model = train_implicit_als(f.train, params);
      if (!model)
        return model.err();
      auto ranking = p.ranking;
      ranking.ranker = sampled_ranker::model;
      auto m = evaluate_sampled_ranking(*model, f.validation.ratings, f.validation.users,
                                        f.validation.items, ranking);
      // Misses: whole numbers, so the loss does not depend on how hit_rate was rounded.
      return trial_score{std::round((1.0 - m.hit_rate) * double(m.held_out)), m.held_out};
    };
    o.work = [&p](const candidate&, double fraction, std::size_t fold) {
      return std::uint64_t(iterations_for(fraction, p.implicit.iterations)) * p.folds[fold].train.size();
    };
  } else {
    o.work_unit = "rating-passes (ratings streamed x passes per batch)";
    o.evaluate = [&p](const candidate& c, double fraction, std::size_t fold) -> result<trial_score> {
      const auto& f = p.folds[fold];
      std::span<const rating> all(f.train.ratings);
      auto used = ratings_for(fraction, all.size());
      auto model = stream_train(apply(p.space, c, p.stream), all.last(used), f.train);
      if (!model)
        return model.err();
      return score(*model, f.validation);
    };
    o.work = [&p](const candidate& c, double fraction, std::size_t fold) {
      auto s = apply(p.space, c, p.stream);
      return std::uint64_t(ratings_for(fraction, p.folds[fold].train.size()))
             * std::uint64_t(s.params.passes);
    };
  }
  return o;
}

result<error_metrics> train_and_test(const tune_problem& p, const candidate& c,
                                     const rating_table& train, const rating_table& test,
                                     stream_order order, std::uint64_t seed) {
  if (p.space.mode == tune_mode::implicit)
    return invalid("an implicit candidate is scored by ranking, not by rating errors "
                   "(train_and_rank in job/implicit_job.hpp)");
  if (p.space.mode == tune_mode::batch) {
    auto params = apply(p.space, c, p.als);
    params.seed = seed;
    auto model = train_als(train, params);
    if (!model)
      return model.err();
    return evaluate(*model, test);
  }
  auto s = apply(p.space, c, p.stream);
  s.params.seed = seed;
  auto stream = train.ratings;
  order_ratings(stream, order, seed);
  auto model = stream_train(s, stream, train);
  if (!model)
    return model.err();
  return evaluate(*model, test);
}

}  // namespace recflow
