// A user's own partitioner on a graph edge: any copyable type with operator()(key),
// partitions() and name() is a key_partitioner. Here users whose ids share a block of
// 1,000 (say, one tenant each) stay together; the engine trains 20 batches with it.
//
//   ./example_custom_partitioner
#include <cstdio>

#include <recflow/engine/local_engine.hpp>
#include <recflow/graph/partitioners.hpp>

using namespace recflow;

/// Users by tenant: id / 1000, spread over n partitions by hashing the tenant.
struct tenant_partitioner {
  std::size_t n = 1;
  std::size_t operator()(std::int64_t user) const noexcept {
    return hash_partitioner{n}(user / 1000);
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "tenant"; }
};
static_assert(key_partitioner<tenant_partitioner>);

int main() {
  auto source = synthetic_source({.users = 8'000, .items = 500, .ratings = 20'000, .batch_size = 1'000});
  stream_params training;
  training.rank = 8;
  auto graph = make_streaming_graph(source, training, /*partitions=*/4);
  graph.user_partitioner = tenant_partitioner{4};                // our own, by user
  graph.item_partitioner = consistent_hash_partitioner::make(4);  // a shipped one, by item
  auto engine = local_engine::make(graph, {.workers = 2});
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.err().message.c_str());
    return 1;
  }
  auto summary = (*engine)->run();
  if (!summary) {
    std::fprintf(stderr, "%s\n", summary.err().message.c_str());
    return 1;
  }
  const auto& last = (*engine)->history().back();
  auto to_items = last.edges[std::size_t(edge_index::partition_to_items)];
  std::printf("%llu ratings in %llu batches on %s x %s; last batch sent %llu messages, %llu bytes "
              "to the item owners\n",
              (unsigned long long)summary->ratings, (unsigned long long)summary->batches,
              graph.user_partitioner.name().c_str(), graph.item_partitioner.name().c_str(),
              (unsigned long long)to_items.messages, (unsigned long long)to_items.bytes);
}
