#include "recflow/job/compare.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "recflow/model/recommend.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

result<void> validate(const compare_options& o) {
  if (o.smooth == 0)
    return error{errc::invalid_argument, "--smooth must be positive, got 0"};
  for (auto ok : {validate(o.als), validate(o.stream), validate(o.eval), validate(o.ranking)})
    if (!ok)
      return ok;
  return {};
}

result<compare_score> compare_batch(const rating_table& train, const rating_table& test,
                                    const compare_options& o,
                                    const std::function<void(int, double)>& on_iteration) {
  auto t0 = std::chrono::steady_clock::now();
  auto als = train_als(train, o.als, [&](int it, double train_rmse) {
    if (on_iteration)
      on_iteration(it, train_rmse);
  });
  if (!als)
    return als.err();
  compare_score s;
  s.errors = evaluate(*als, test);
  s.ranking = evaluate_ranking(*als, test, o.ranking);
  s.seconds = seconds_since(t0);
  return s;
}

result<compare_stream_result> compare_stream(const rating_table& train, const rating_table& test,
                                             const compare_options& o,
                                             const stream_callback& on_batch) {
  auto t0 = std::chrono::steady_clock::now();
  auto trainer = streaming_trainer::make(o.stream, train.scale);
  if (!trainer)
    return trainer.err();
  auto reports = stream_evaluate(*trainer, train, test, o.eval, on_batch);
  if (!reports)
    return reports.err();
  auto& model = trainer->model();
  model.rated() = rated_in_model(model, train.ratings, train.users, train.items);
  compare_stream_result r;
  r.score.errors = evaluate(model, test);
  r.score.ranking = evaluate_ranking(model, test, o.ranking);
  r.score.seconds = seconds_since(t0);
  r.reports = std::move(*reports);
  return r;
}

std::vector<double> centered_mean(const std::vector<double>& v, std::size_t window) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::size_t half = std::min({window / 2, i, v.size() - 1 - i});
    const std::size_t lo = i - half;
    const std::size_t hi = i + half + 1;
    double sum = 0.0;
    for (std::size_t j = lo; j < hi; ++j)
      sum += v[j];
    out[i] = sum / static_cast<double>(hi - lo);
  }
  return out;
}

result<void> write_compare_csv(const std::string& path, const std::vector<stream_report>& reports,
                               std::size_t smooth, double batch_rmse) {
  std::vector<double> rmse;
  for (const auto& r : reports)
    rmse.push_back(r.rmse);
  const auto trend = centered_mean(rmse, smooth | 1);
  std::ofstream csv(path);
  if (!csv)
    return error{errc::io, path + ": cannot write the per-batch CSV"};
  csv << "batch,ratings_seen,stream_rmse,stream_rmse_trend,batch_als_rmse\n";
  for (std::size_t b = 0; b < reports.size(); ++b)
    csv << fmt::format("{},{},{:.6f},{:.6f},{:.6f}\n", reports[b].batch, reports[b].ratings_seen,
                       rmse[b], trend[b], batch_rmse);
  if (!csv.flush())
    return error{errc::io, path + ": cannot write the per-batch CSV"};
  return {};
}

}  // namespace recflow
