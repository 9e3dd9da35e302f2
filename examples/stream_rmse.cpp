// Streams MovieLens u1.base through the actor graph from a source of our own, 10,000 ratings
// per batch, printing the validation RMSE on u1.test after each. Run: example_stream_rmse data/ml-100k
#include <algorithm>
#include <cstdio>
#include <recflow/data/ingest.hpp>
#include <recflow/engine/local_engine.hpp>
using namespace recflow;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "data/ml-100k";
  auto train = read_ratings(dir + "/u1.base"), test = read_ratings(dir + "/u1.test");
  if (!train || !test) return std::fprintf(stderr, "cannot read %s\n", dir.c_str()), 1;
  std::size_t next = 0;  // the source: the next 10,000 ratings; std::nullopt ends the stream
  auto source = source_from([&]() -> std::optional<rating_batch> {
    if (next == train->size()) return std::nullopt;
    std::size_t n = std::min<std::size_t>(10'000, train->size() - next);
    next += n;
    return to_batch({train->ratings.data() + next - n, n}, train->users, train->items);
  });
  auto graph = make_streaming_graph(source, stream_params{}, /*partitions=*/2);
  graph.evaluation = evaluation_options{.validation = std::make_shared<rating_table>(*test)};
  auto engine = local_engine::make(graph, {.workers = 2});
  if (!engine) return std::fprintf(stderr, "%s\n", engine.err().message.c_str()), 1;
  auto run = (*engine)->run([](const batch_metrics& m) {
    std::printf("batch %llu: %5llu ratings seen, validation rmse %.4f\n",
                (unsigned long long)m.batch, (unsigned long long)m.ratings_seen, *m.rmse);
  });
  return run ? 0 : (std::fprintf(stderr, "%s\n", run.err().message.c_str()), 1);
}
