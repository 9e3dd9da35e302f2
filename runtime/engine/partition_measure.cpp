#include "recflow/engine/partition_measure.hpp"

#include <chrono>

#include "recflow/actors/messages.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/graph/wire.hpp"

namespace recflow {

result<partition_measurement> measure_partitions(const rating_table& data, partitioner by_user,
                                                 partitioner by_item, const measure_options& o) {
  if (!by_user.valid() || !by_item.valid())
    return error{errc::invalid_argument, "measuring needs a user and an item partitioner"};
  if (o.batch_size == 0 || o.batches == 0)
    return error{errc::invalid_argument, "batch size and batch count must be positive"};
  auto t0 = std::chrono::steady_clock::now();
  std::size_t n = by_user.partitions();
  auto source = memory_source(data, batch_policy{.max_ratings = o.batch_size});
  auto graph = make_streaming_graph(std::move(source), o.training, n, data.scale);
  graph.user_partitioner = by_user;
  graph.item_partitioner = by_item;
  auto eo = o.engine;
  eo.frame_rows = o.frames;
  auto engine = local_engine::make(std::move(graph), eo);
  if (!engine)
    return engine.err();
  auto run = (*engine)->run_n(o.batches);
  if (!run)
    return run.err();
  partition_measurement m;
  for (const auto& b : (*engine)->history()) {
    ++m.batches;
    m.ratings += b.ratings;
    for (std::size_t e = 0; e < edge_count; ++e)
      m.edges[e] += b.edges[e];
  }
  auto model = (*engine)->snapshot();
  if (!model)
    return model.err();
  // Each key's count is the ratings its owner trained on: sum them per owner.
  m.user_owner_ratings.assign(n, 0);
  m.item_owner_ratings.assign(by_item.partitions(), 0);
  for (index_t u = 0; u < model->n_users(); ++u)
    m.user_owner_ratings[by_user(model->users().external(u))] += model->user_count()[u];
  for (index_t i = 0; i < model->n_items(); ++i)
    m.item_owner_ratings[by_item(model->items().external(i))] += model->item_count()[i];
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

std::array<edge_traffic, edge_count> predict_engine_traffic(
  const std::vector<std::uint64_t>& batch_sizes, std::size_t partitions, int passes) {
  std::array<edge_traffic, edge_count> t{};
  const std::uint64_t n = partitions, blocks = n * n, p = std::uint64_t(passes);
  auto add = [&](edge_index e, std::uint64_t messages, std::uint64_t bytes) {
    t[std::size_t(e)].messages += messages;
    t[std::size_t(e)].bytes += bytes;
  };
  for (auto b : batch_sizes) {
    add(edge_index::source_to_partition, 1, sizeof(stamped_batch) + b * sizeof(rating_event));
    add(edge_index::partition_to_users, n, n * sizeof(user_slice) + b * sizeof(user_route));
    add(edge_index::partition_to_items, n, n * sizeof(item_slice) + b * sizeof(item_route));
    // Every block (user owner, item owner) exchanges one message each way per pass; pass 0
    // carries each rating's slot, every pass each rating's error.
    add(edge_index::users_to_items, p * blocks,
        p * blocks * sizeof(user_rows) + b * sizeof(std::uint32_t));
    add(edge_index::items_to_users, p * blocks,
        p * blocks * sizeof(item_rows) + b * sizeof(std::uint32_t) + p * b * sizeof(double));
  }
  return t;
}

std::uint64_t framed_owner_bytes(edge_index e, const edge_traffic& t, std::uint64_t ratings,
                                 int passes, int rank) {
  // Pass 0 carries each rating's row index; item rows carry each rating's error every
  // pass; user rows carry a bias per row.
  bool users = e == edge_index::users_to_items;
  auto errors = users ? 0 : ratings * std::uint64_t(passes);
  return t.messages * wire::rows_frame_bytes(0, 0, 0, 0, false)
         + (wire::rows_frame_bytes(ratings, errors, t.rows, std::uint32_t(rank), users)
            - wire::rows_frame_bytes(0, 0, 0, 0, false));
}

}  // namespace recflow
