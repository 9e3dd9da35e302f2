#include "recflow/job/tune_job.hpp"

#include <optional>

#include "recflow/engine/tune_pool.hpp"

namespace recflow {

result<void> validate(const tune_job_options& o) {
  if (o.workers == 0)
    return error{errc::invalid_argument, "workers must be positive, got 0"};
  if (o.folds == 1 || o.folds < 0)
    return error{errc::invalid_argument,
                 "--folds must be at least 2 (or 0 for a hold-out), got " + std::to_string(o.folds)};
  return validate(o.search);
}

result<tune_problem> make_tune_problem(const tune_job_options& o, const rating_table& train) {
  tune_problem p;
  p.space = default_space(o.mode);
  for (const auto& text : o.params) {
    auto spec = parse_param(text, o.mode);
    if (!spec)
      return spec.err();
    set_param(p.space, std::move(*spec));
  }
  p.als.iterations = o.iterations;
  p.als.seed = o.seed;
  p.stream.params.seed = o.seed;
  p.implicit = o.implicit.als;
  p.implicit.iterations = o.iterations;
  p.implicit.seed = o.seed;
  p.ranking = o.implicit.ranking;
  p.ranking.seed = o.seed;
  if (auto ok = o.mode == tune_mode::implicit ? validate(p.implicit) : validate(p.als); !ok)
    return ok.err();
  if (auto ok = validate(p.ranking); !ok)
    return ok.err();
  if (auto ok = check_space(p); !ok)
    return ok.err();
  if (o.mode == tune_mode::implicit) {
    if (o.folds > 0)
      return error{errc::invalid_argument,
                   "--folds is not for --implicit: it validates on each user's latest "
                   "training event"};
    auto fold = latest_fold(train, o.seed);
    if (!fold)
      return fold.err();
    p.folds.push_back(std::move(*fold));
  } else if (o.mode == tune_mode::stream) {
    if (o.folds > 0)
      return error{errc::invalid_argument,
                   "--folds is for --mode batch: stream mode validates on the newest part of "
                   "its window (--window, --validation)"};
    auto fold = window_fold(train, o.window, o.validation, o.order, o.seed);
    if (!fold)
      return fold.err();
    p.folds.push_back(std::move(*fold));
  } else {
    auto folds = validation_folds(train, o.validation, o.folds, o.seed);
    if (!folds)
      return folds.err();
    p.folds = std::move(*folds);
  }
  return p;
}

result<tune_job_result> run_tune_job(const tune_problem& p, const tune_job_options& o,
                                     const rating_table& train, const rating_table& test,
                                     const std::function<void(std::size_t, std::size_t)>& on_progress) {
  auto executor = actor_pool_executor(o.workers);
  auto tuned = run_search(p.space, default_candidate(p), make_objective(p), o.search, executor,
                          [&](std::size_t done, std::size_t total) {
                            if (on_progress)
                              on_progress(done, total);
                          });
  if (!tuned)
    return tuned.err();
  tune_job_result out{.report = std::move(*tuned)};
  const auto& r = out.report;
  // The winner and the defaults trained on all training ratings and scored on the test
  // set, as two tasks on the pool.
  std::vector<std::optional<result<error_metrics>>> tested(2);
  const candidate* finalists[2] = {&r.ranked[r.best].settings, &r.ranked[r.defaults].settings};
  if (p.space.mode == tune_mode::implicit) {
    std::vector<std::optional<result<implicit_job_result>>> ranked(2);
    executor(
      2, [&](std::size_t k) {
        implicit_job_options job{.als = apply(p.space, *finalists[k], p.implicit),
                                 .ranking = p.ranking};
        ranked[k] = train_and_rank(train, test, job);
      },
      [](std::size_t) {});
    for (auto& t : ranked)
      if (!*t)
        return t->err();
    out.best_ranked = std::move(*ranked[0]).value();
    out.default_ranked = std::move(*ranked[1]).value();
    return out;
  }
  executor(
    2, [&](std::size_t k) {
      tested[k] = train_and_test(p, *finalists[k], train, test, o.order, o.seed);
    },
    [](std::size_t) {});
  for (auto& t : tested)
    if (!*t)
      return t->err();
  out.best_test = tested[0]->value();
  out.default_test = tested[1]->value();
  return out;
}

}  // namespace recflow
