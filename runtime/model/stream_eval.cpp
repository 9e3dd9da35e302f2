#include "recflow/model/stream_eval.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace recflow {

result<void> validate(const stream_eval_options& o) {
  if (o.batch_size == 0)
    return error{errc::invalid_argument, "batch size must be positive, got 0"};
  if (o.eval_every == 0)
    return error{errc::invalid_argument, "evaluation interval must be positive, got 0"};
  if (o.order != stream_order::random && o.order != stream_order::time)
    return error{errc::invalid_argument, "order must be random or time, got "
                                           + std::to_string(static_cast<int>(o.order))};
  return {};
}

result<std::vector<stream_report>> stream_evaluate(streaming_trainer& trainer,
                                                   const rating_table& train,
                                                   std::span<const rating> validation,
                                                   const id_map& val_users,
                                                   const id_map& val_items,
                                                   const stream_eval_options& opts,
                                                   const stream_callback& on_batch) {
  if (auto ok = validate(opts); !ok)
    return ok.err();
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  auto start = clock::now();

  auto stream = train.ratings;
  order_ratings(stream, opts.order, opts.order_seed);
  std::vector<stream_report> reports;
  std::span<const rating> all(stream);
  validation_evaluator evaluate_model(validation, val_users, val_items);
  for (std::size_t at = 0; at < all.size(); at += opts.batch_size) {
    if (opts.max_batches != 0 && reports.size() == opts.max_batches)
      break;
    auto batch = all.subspan(at, std::min(opts.batch_size, all.size() - at));
    auto t0 = clock::now();
    if (auto ok = trainer.apply(batch, train.users, train.items); !ok)
      return ok.err();
    auto t1 = clock::now();
    evaluate_model.note(batch, train.users, train.items);
    stream_report rep;
    rep.batch = reports.size() + 1;
    rep.ratings_seen = at + batch.size();
    rep.evaluated = rep.batch % opts.eval_every == 0;
    if (rep.evaluated) {
      auto m = evaluate_model.update(trainer.model());
      rep.rmse = m.rmse;
      rep.mae = m.mae;
    }
    rep.batch_seconds = seconds(t1 - t0);
    rep.elapsed_seconds = seconds(clock::now() - start);
    reports.push_back(rep);
    if (on_batch)
      on_batch(rep);
  }
  return reports;
}

}  // namespace recflow
