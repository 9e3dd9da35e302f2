// A user's own source feeding the engine: a callable that yields micro-batches and ends
// the stream with std::nullopt. Trains a rank-8 model on 20 batches of a toy stream.
//
//   ./example_custom_source
#include <cstdio>
#include <optional>

#include <recflow/recflow.hpp>

using namespace recflow;

int main() {
  // Any callable returning std::optional<rating_batch> (or a result of it) is a source.
  int sent = 0;
  auto source = source_from([&sent]() -> std::optional<rating_batch> {
    if (sent == 20)
      return std::nullopt;  // end of stream
    rating_batch b;
    for (int k = 0; k < 500; ++k) {
      std::int64_t user = (sent * 500 + k) % 97, item = (k * 7 + sent) % 53;
      b.ratings.push_back({user, item, float(1 + (user + item) % 5), sent});
    }
    ++sent;
    return b;
  });

  stream_params training;
  training.rank = 8;
  auto graph = make_streaming_graph(source, training, /*partitions=*/2);
  auto engine = local_engine::make(graph, {.workers = 2});
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.err().message.c_str());
    return 1;
  }
  auto summary = (*engine)->run([](const batch_metrics& m) {
    if (m.batch % 5 == 0)
      std::printf("batch %2llu: %llu ratings in %.2f ms\n", (unsigned long long)m.batch,
                  (unsigned long long)m.ratings, m.latency_seconds * 1e3);
  });
  if (!summary) {
    std::fprintf(stderr, "%s\n", summary.err().message.c_str());
    return 1;
  }
  auto model = (*engine)->snapshot().value();
  std::printf("%llu ratings, %u users, %u items, mu %.3f, predict(1, 2) = %.3f\n",
              (unsigned long long)summary->ratings, model.n_users(), model.n_items(), model.mu(),
              model.predict_external(1, 2));
}
