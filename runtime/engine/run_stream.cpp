#include "recflow/engine/run_stream.hpp"

#include <chrono>

#include "recflow/graph/partition_plan.hpp"
#include "recflow/model/split.hpp"

namespace recflow {

namespace {

/// The partitioner of one edge. "hash" and "modulo" need nothing; "range" and "degree"
/// are fitted to the degrees of the training stream (as a planner that knows the data
/// would fit them); "random" and "consistent" are seeded.
partitioner edge_partitioner(const std::string& strategy, std::size_t n, const id_map& ids,
                             std::span<const rating> rs, bool users, std::uint64_t salt) {
  if (strategy == "hash" || strategy == "modulo")
    return make_partitioner(strategy, n, salt);
  std::vector<std::uint64_t> degrees(ids.size(), 0);
  for (const auto& r : rs)
    ++degrees[users ? r.user : r.item];
  return make_key_partitioner(strategy, n, ids.externals(), degrees, salt);
}

/// Runs `engine` (local or cluster) to the end, reporting each batch as stream_evaluate does.
template <class Engine>
result<local_stream_result> drive_stream(Engine& engine, const stream_eval_options& opts,
                                         const stream_callback& on_batch) {
  local_stream_result out;
  auto start = std::chrono::steady_clock::now();
  auto report = [&](const batch_metrics& m) {
    stream_report r;
    r.batch = m.batch;
    r.ratings_seen = m.ratings_seen;
    r.evaluated = m.rmse.has_value();
    r.rmse = m.rmse.value_or(0.0);
    r.mae = m.mae.value_or(0.0);
    r.batch_seconds = m.latency_seconds;
    r.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.reports.push_back(r);
    if (on_batch)
      on_batch(r);
  };
  auto sum = opts.max_batches == 0 ? engine.run(report) : engine.run_n(opts.max_batches, report);
  if (!sum)
    return sum.err();
  auto model = engine.snapshot();
  if (!model)
    return model.err();
  out.model = std::move(*model);
  return out;
}

}  // namespace

result<local_stream_result> run_stream(const stream_params& params, const rating_table& train,
                                       const rating_table& validation,
                                       const stream_eval_options& opts,
                                       const local_stream_options& local,
                                       const stream_callback& on_batch) {
  if (auto ok = validate(opts); !ok)
    return ok.err();
  if (auto ok = check_ratings(train); !ok)
    return ok.err();
  auto by_user = edge_partitioner(local.partitioner, local.partitions, train.users,
                                  train.ratings, true, 0);
  auto by_item = edge_partitioner(local.partitioner, local.partitions, train.items,
                                  train.ratings, false, 0x51ed);
  if (!by_user.valid() || !by_item.valid())
    return error{errc::invalid_argument,
                 "unknown partitioner '" + local.partitioner
                   + "' (hash, modulo, range, random, degree, consistent)"};
  auto stream = train.ratings;
  order_ratings(stream, opts.order, opts.order_seed);
  streaming_graph g;
  g.source = memory_source(to_batch(stream, train.users, train.items).ratings,
                           {.max_ratings = opts.batch_size});
  g.partitions = local.partitions;
  g.user_partitioner = by_user;
  g.item_partitioner = by_item;
  g.training = params;
  g.scale = local.seed_model ? local.seed_model->scale() : train.scale;
  g.seed_model = local.seed_model;
  g.evaluation = evaluation_options{std::make_shared<const rating_table>(validation),
                                    opts.eval_every};
  g.on_model = local.on_model;
  g.publish_interval = local.publish_interval;
  if (local.wrap_source)
    g.source = local.wrap_source(std::move(g.source));
  if (!local.nodes.empty()) {
    cluster_options co{.nodes = local.nodes, .engine = local.engine};
    co.recover = local.recover;
    co.checkpoint_every = local.checkpoint_every;
    co.on_event = local.on_event;
    auto engine = cluster_engine::make(std::move(g), co);
    if (!engine)
      return engine.err();
    if (local.on_placement)
      local.on_placement((*engine)->explain());
    return drive_stream(**engine, opts, on_batch);
  }
  auto engine = local_engine::make(std::move(g), local.engine);
  if (!engine)
    return engine.err();
  return drive_stream(**engine, opts, on_batch);
}


}  // namespace recflow
