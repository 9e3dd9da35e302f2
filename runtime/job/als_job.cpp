#include "recflow/job/als_job.hpp"

#include <cmath>

#include <fmt/format.h>

#include "recflow/engine/cluster_als.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/split.hpp"

namespace recflow {

namespace {

/// Mean of per-fold metrics weighted by the users each averaged over.
void accumulate(ranking_metrics& total, const ranking_metrics& fold) {
  const double a = static_cast<double>(total.users), b = static_cast<double>(fold.users);
  const double n = a + b;
  if (n > 0) {
    total.precision = (total.precision * a + fold.precision * b) / n;
    total.recall = (total.recall * a + fold.recall * b) / n;
    total.ndcg = (total.ndcg * a + fold.ndcg * b) / n;
    total.map = (total.map * a + fold.map * b) / n;
  }
  total.k = fold.k;
  total.users += fold.users;
  total.users_without_relevant += fold.users_without_relevant;
}

als_cluster_options cluster_of(const als_placement& where) {
  return {.nodes = where.nodes, .secret = where.secret, .tls = where.tls, .graph = where.graph};
}

}  // namespace

result<factor_model> train_als_job(const rating_table& train, const als_job_options& o,
                                   const std::function<void(int, double)>& on_sweep) {
  auto sweep = [&](int it, double rmse) {
    if (on_sweep)
      on_sweep(it, rmse);
  };
  auto graph_sweep = [&](const als_sweep_metrics& m) { sweep(m.iteration, m.train_rmse); };
  if (o.reference)
    return train_als(train, o.als, sweep);
  if (o.nodes.empty())
    return train_als_graph(train, o.als, o.graph, graph_sweep);
  return train_als_cluster(train, o.als, cluster_of(o), graph_sweep);
}

result<factor_model> train_implicit_als_job(const rating_table& events, const implicit_params& p,
                                            const als_placement& where,
                                            const std::function<void(int, double)>& on_sweep) {
  auto graph_sweep = [&](const als_sweep_metrics& m) {
    if (on_sweep)
      on_sweep(m.iteration, m.objective);
  };
  if (where.reference)
    return train_implicit_als(events, p, on_sweep);
  if (where.nodes.empty())
    return train_implicit_als_graph(events, p, where.graph, graph_sweep);
  return train_implicit_als_cluster(events, p, cluster_of(where), graph_sweep);
}

result<cross_validation> cross_validate(const rating_table& train, const rating_table& test,
                                        int folds, std::uint64_t seed,
                                        const ranking_options& ranking, const fold_trainer& fit,
                                        const std::function<void(int, const error_metrics&)>& on_fold,
                                        const task_runner& run) {
  if (folds < 2)
    return error{errc::invalid_argument, "--folds must be at least 2, got " + std::to_string(folds)};
  auto all = train.ratings;
  all.insert(all.end(), test.ratings.begin(), test.ratings.end());
  cross_validation cv;
  double se = 0.0, ae = 0.0;
  std::size_t train_total = 0;
  for (int f = 0; f < folds; ++f) {
    auto parts = k_fold(all, folds, f, seed);
    train_total += parts.train.size();
    auto fold_train = train.with_ratings(std::move(parts.train));
    auto model = fit(fold_train, f);
    if (!model)
      return model.err();
    auto m = evaluate(*model, parts.test, fold_train.users, fold_train.items);
    if (on_fold)
      on_fold(f, m);
    se += m.rmse * m.rmse * static_cast<double>(m.count);
    ae += m.mae * static_cast<double>(m.count);
    cv.test_ratings += m.count;
    cv.folds.push_back(m);
    accumulate(cv.ranking, evaluate_ranking(*model, parts.test, fold_train.users, fold_train.items,
                                            ranking, run));
  }
  cv.rmse = std::sqrt(se / static_cast<double>(cv.test_ratings));
  cv.mae = ae / static_cast<double>(cv.test_ratings);
  cv.train_ratings = train_total / static_cast<std::size_t>(folds);
  return cv;
}

model_metadata als_metadata(const als_params& p, const std::string& data, const std::string& biases,
                            const std::string& engine, double test_rmse) {
  model_metadata meta;
  meta.set("trainer", "batch-als");
  meta.set("recflow_version", RECFLOW_VERSION);
  meta.set("data", data);
  meta.set("rank", std::to_string(p.rank));
  meta.set("iterations", std::to_string(p.iterations));
  meta.set("lambda", fmt::format("{}", p.lambda));
  meta.set("lambda_bias", fmt::format("{}", p.lambda_bias));
  meta.set("weighted_lambda", p.weighted_lambda ? "true" : "false");
  meta.set("lambda_exponent", fmt::format("{}", p.lambda_exponent));
  meta.set("biases", biases);
  meta.set("engine", engine);
  meta.set("seed", std::to_string(p.seed));
  meta.set("test_rmse", fmt::format("{:.6f}", test_rmse));
  return meta;
}

}  // namespace recflow
