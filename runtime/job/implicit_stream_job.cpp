#include "recflow/job/implicit_stream_job.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "recflow/engine/implicit_cluster.hpp"
#include "recflow/engine/publish_pacer.hpp"
#include "recflow/job/implicit_job.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

using clock = std::chrono::steady_clock;

}  // namespace

result<void> validate(const implicit_stream_job_options& o) {
  if (auto ok = validate(o.params, o.seed.get()); !ok)
    return ok;
  if (auto ok = validate(o.ranking); !ok)
    return ok;
  if (o.batch_size == 0)
    return invalid("batch size must be positive, got 0");
  if (o.eval_every == 0)
    return invalid("eval every must be positive, got 0");
  if (!o.reference)
    if (auto ok = validate(o.graph); !ok)
      return ok;
  if (o.reference && !o.nodes.empty())
    return invalid("the reference runs in this process: nodes need the graph");
  return {};
}

namespace {

/// The reference, the graph or the graph across nodes, as `o` says.
result<std::unique_ptr<implicit_stream_updater>> make_updater(const implicit_stream_job_options& o) {
  if (o.reference) {
    auto t = implicit_stream_trainer::make(o.params, o.seed.get());
    if (!t)
      return t.err();
    return std::unique_ptr<implicit_stream_updater>(
      std::make_unique<implicit_stream_trainer>(std::move(*t)));
  }
  if (!o.nodes.empty()) {
    auto c = implicit_cluster::make(o.params, {o.nodes, o.secret, o.tls, o.graph}, o.seed.get());
    if (!c)
      return c.err();
    return std::unique_ptr<implicit_stream_updater>(std::move(*c));
  }
  auto g = implicit_graph::make(o.params, o.graph, o.seed.get());
  if (!g)
    return g.err();
  return std::unique_ptr<implicit_stream_updater>(std::move(*g));
}

/// One batch from a feed: its events, whether it is known to be the last, and the
/// source's position after it (empty: none).
struct fed_batch {
  std::vector<stamped_event> events;
  bool last = false;
  std::string position;
};
using batch_feed = std::function<result<std::optional<fed_batch>>()>;

/// A source's batches as events: its values as weights, or (with `threshold`) ratings at
/// or above it as events of weight 1, the others dropped.
batch_feed source_feed(rating_source& source, std::optional<double> threshold) {
  return [&source, threshold]() -> result<std::optional<fed_batch>> {
    auto got = source.next();
    if (!got)
      return got.err();
    if (!*got)
      return std::optional<fed_batch>{};
    fed_batch b;
    b.position = (*got)->position;
    for (const auto& e : (*got)->ratings)
      if (!threshold)
        b.events.push_back({e.user, e.item, e.value, 0});
      else if (double(e.value) >= *threshold)  // a liked rating: an event of weight 1
        b.events.push_back({e.user, e.item, 1.0f, 0});
    return std::optional<fed_batch>{std::move(b)};
  };
}

/// The models a server is handed (on_model): users and items in the order they first
/// appeared, so that a later model only appends keys.
class model_handover {
 public:
  explicit model_handover(const implicit_stream_job_options& o) : o_(o), pacer_(o.publish_interval) {
    if (o.on_model && o.seed) {  // a seed's keys come first, in its order
      for (index_t u = 0; u < o.seed->n_users(); ++u)
        users_.insert(o.seed->users().external(u));
      for (index_t i = 0; i < o.seed->n_items(); ++i)
        items_.insert(o.seed->items().external(i));
    }
  }
  /// Before batch `events` is applied.
  void saw(std::span<const stamped_event> events) {
    if (!o_.on_model)
      return;
    for (const auto& e : events) {
      users_.insert(e.user);
      items_.insert(e.item);
    }
  }
  /// After batch `batch` was applied.
  result<void> applied(const implicit_stream_updater& updater, std::uint64_t batch) {
    if (!o_.on_model || !pacer_.due(publish_pacer::clock::now()))
      return {};
    auto m = updater.snapshot(implicit_model_order{&users_, &items_});
    if (!m)
      return m.err();
    o_.on_model(batch, std::move(*m));
    return {};
  }

 private:
  const implicit_stream_job_options& o_;
  publish_pacer pacer_;
  id_map users_, items_;
};

/// The loop both inputs share: applies every batch of `next`, scores with `score` (null:
/// no held-out events) after every eval_every-th batch and the last, tells `applied` each
/// position, hands the model to o.on_model as often as o.publish_interval allows, reports
/// each batch; the final model in the result (in `order`).
result<void> stream_batches(implicit_stream_updater& updater, const implicit_stream_job_options& o,
                            const batch_feed& next,
                            const std::function<sampled_ranking_metrics(const factor_model&)>& score,
                            const implicit_model_order& order,
                            const std::function<void(const std::string&)>& applied,
                            const std::function<void(const implicit_batch_report&)>& on_batch,
                            implicit_stream_result& r) {
  bool scored_last = false;
  model_handover handover(o);
  while (o.max_batches == 0 || r.batches < o.max_batches) {
    auto fed = next();
    if (!fed)
      return error{fed.err().code, "batch " + std::to_string(r.batches + 1) + ": " + fed.err().message};
    if (!*fed)
      break;
    auto& batch = **fed;
    handover.saw(batch.events);
    const auto t0 = clock::now();
    if (auto ok = updater.apply(batch.events); !ok)
      return error{ok.err().code, "batch " + std::to_string(r.batches + 1) + ": " + ok.err().message};
    implicit_batch_report b;
    b.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    r.stream_seconds += b.seconds;
    b.batch = ++r.batches;
    b.events = batch.events.size();
    r.train_events += b.events;
    b.streamed = r.train_events;
    if (applied && !batch.position.empty())
      applied(batch.position);
    auto failed = [&](const error& e) {
      return error{e.code, "after batch " + std::to_string(b.batch) + ": " + e.message};
    };
    if (auto ok = handover.applied(updater, b.batch); !ok)
      return failed(ok.err());
    const bool last = batch.last || (o.max_batches > 0 && r.batches >= o.max_batches);
    scored_last = score && (last || b.batch % o.eval_every == 0);
    if (scored_last) {
      auto m = updater.snapshot(order);
      if (!m)
        return failed(m.err());
      r.ranking = *(b.ranking = score(*m));
    }
    if (on_batch)
      on_batch(b);
  }
  auto final_model = updater.snapshot(order);
  if (!final_model)
    return error{final_model.err().code, "the final model: " + final_model.err().message};
  r.model = std::move(*final_model);
  if (score && !scored_last)  // the final model is always scored
    r.ranking = score(r.model);
  return {};
}

}  // namespace

result<implicit_stream_result> run_implicit_stream_job(
  const rating_table& events, const implicit_stream_job_options& o,
  const std::function<void(const implicit_batch_report&)>& on_batch) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto parts = leave_latest_out(events.ratings, o.split_seed);
  order_ratings(parts.train, o.order, o.order_seed);
  auto updater = make_updater(o);
  if (!updater)
    return updater.err();

  implicit_stream_result r;
  r.held_out = parts.test.size();
  auto ranking = o.ranking;
  ranking.ranker = sampled_ranker::model;
  auto score = [&](const factor_model& m) {
    return evaluate_sampled_ranking(m, parts.test, events.users, events.items, ranking);
  };
  const auto& train = parts.train;
  std::size_t first = 0;
  batch_feed next = [&]() -> result<std::optional<fed_batch>> {
    if (first >= train.size())
      return std::optional<fed_batch>{};
    const auto n = std::min(o.batch_size, train.size() - first);
    fed_batch b;
    for (std::size_t j = first; j < first + n; ++j)
      b.events.push_back({events.users.external(train[j].user),
                          events.items.external(train[j].item), train[j].value, 0});
    first += n;
    b.last = first >= train.size();
    return std::optional<fed_batch>{std::move(b)};
  };
  std::shared_ptr<rating_source> wrapped;
  if (o.wrap_source) {  // the table's batches through the wrapper, e.g. with posted events
    wrapped = o.wrap_source(source_from([table_next = next]() -> result<std::optional<rating_batch>> {
      auto fed = table_next();
      if (!fed)
        return fed.err();
      if (!*fed)
        return std::optional<rating_batch>{};
      rating_batch b;
      for (const auto& e : (*fed)->events)
        b.ratings.push_back({e.user, e.item, e.weight, 0});
      return std::optional<rating_batch>{std::move(b)};
    }));
    next = source_feed(*wrapped, std::nullopt);
  }
  // The table's order, as batch implicit ALS lists them: the same sampled negatives.
  const implicit_model_order in_table{&events.users, &events.items};
  if (auto ok = stream_batches(**updater, o, next, score, in_table, {}, on_batch, r); !ok)
    return ok.err();
  ranking.ranker = sampled_ranker::popularity;
  r.popularity = score(r.model);
  return r;
}

result<implicit_stream_result> run_implicit_source_job(
  const implicit_source_input& in, const implicit_stream_job_options& o,
  const std::function<void(const implicit_batch_report&)>& on_batch) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  if (!in.source)
    return invalid("an implicit source job needs a source");
  if (in.threshold && !std::isfinite(*in.threshold))
    return invalid("implicit threshold must be a finite number");
  auto updater = make_updater(o);
  if (!updater)
    return updater.err();
  implicit_stream_result r;
  auto ranking = o.ranking;
  ranking.ranker = sampled_ranker::model;
  std::function<sampled_ranking_metrics(const factor_model&)> score;
  if (in.held_out) {
    r.held_out = in.held_out->size();
    score = [&](const factor_model& m) {
      return evaluate_sampled_ranking(m, in.held_out->ratings, in.held_out->users,
                                      in.held_out->items, ranking);
    };
  }
  auto source = o.wrap_source ? o.wrap_source(in.source) : in.source;
  batch_feed next = source_feed(*source, in.threshold);
  const implicit_model_order order{in.held_out ? &in.held_out->users : nullptr,
                                   in.held_out ? &in.held_out->items : nullptr};
  auto applied = [&](const std::string& position) { source->applied(position); };
  if (auto ok = stream_batches(**updater, o, next, score, order, applied, on_batch, r); !ok)
    return ok.err();
  if (score) {
    ranking.ranker = sampled_ranker::popularity;
    r.popularity = score(r.model);
  }
  return r;
}

result<implicit_compare_result> run_implicit_compare(
  const rating_table& events, const implicit_stream_job_options& stream,
  const std::function<void(const implicit_batch_report&)>& on_batch) {
  if (auto ok = validate(stream); !ok)
    return ok.err();
  implicit_job_options batch;
  batch.als = stream.params.als;
  batch.ranking = stream.ranking;
  batch.split_seed = stream.split_seed;
  auto b = run_implicit_job(events, batch);
  if (!b)
    return b.err();
  implicit_compare_result r;
  r.batch = b->ranking;
  r.batch_seconds = b->train_seconds;
  auto s = run_implicit_stream_job(events, stream, [&](const implicit_batch_report& report) {
    r.reports.push_back(report);
    if (on_batch)
      on_batch(report);
  });
  if (!s)
    return s.err();
  r.stream = std::move(*s);
  return r;
}

namespace {

/// The stream's own parameters, after the implicit ALS ones.
model_metadata with_stream_parameters(model_metadata meta, const implicit_stream_job_options& o) {
  meta.set("passes", std::to_string(o.params.passes));
  meta.set("refresh_every", std::to_string(o.params.refresh_every));
  meta.set("batch_size", std::to_string(o.batch_size));
  return meta;
}

}  // namespace

model_metadata implicit_stream_metadata(const implicit_stream_job_options& o,
                                        const std::string& data, const implicit_stream_result& r) {
  auto meta = with_stream_parameters(
    implicit_metadata("implicit-stream", o.params.als, data, r.ranking), o);
  meta.set("batches", std::to_string(r.batches));
  return meta;
}

model_metadata implicit_stream_metadata(const implicit_stream_job_options& o,
                                        const std::string& data) {
  return with_stream_parameters(implicit_metadata("implicit-stream", o.params.als, data), o);
}

}  // namespace recflow
