// Streams MovieLens 100K as implicit events (every rating a click) through the actor graph
// of streaming implicit ALS, 5,000 events per batch in time order, and ranks each user's
// latest event against 100 sampled items (HR@10) after every fourth batch; then a user's
// top 5. Run: example_implicit_stream data/ml-100k
#include <algorithm>
#include <cstdio>
#include <recflow/data/events.hpp>
#include <recflow/engine/implicit_graph.hpp>
#include <recflow/model/ranking.hpp>
#include <recflow/model/recommend.hpp>
#include <recflow/model/split.hpp>
using namespace recflow;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "data/ml-100k";
  auto events = read_events(dir + "/u.data", {.ingest = {}, .threshold = 1.0});  // ratings >= 1: events
  if (!events) return std::fprintf(stderr, "%s\n", events.err().message.c_str()), 1;
  auto parts = leave_latest_out(events->ratings, /*seed=*/42);  // each user's latest held out
  order_ratings(parts.train, stream_order::time, 42);
  auto graph = implicit_graph::make(implicit_stream_params{}, {.partitions = 2, .workers = 2});
  if (!graph) return std::fprintf(stderr, "%s\n", graph.err().message.c_str()), 1;
  const implicit_model_order order{&events->users, &events->items};
  for (std::size_t first = 0, batch = 1; first < parts.train.size(); first += 5000, ++batch) {
    std::vector<stamped_event> b;  // events carry external ids
    for (std::size_t j = first; j < std::min(parts.train.size(), first + 5000); ++j)
      b.push_back({events->users.external(parts.train[j].user),
                   events->items.external(parts.train[j].item), parts.train[j].value, 0});
    if (auto ok = (*graph)->apply(b); !ok)
      return std::fprintf(stderr, "%s\n", ok.err().message.c_str()), 1;
    if (batch % 4 == 0 || first + 5000 >= parts.train.size()) {
      auto hr = evaluate_sampled_ranking((*graph)->model(order), parts.test, events->users,
                                         events->items);
      std::printf("batch %zu: %6zu events, HR@10 %.4f\n", batch,
                  std::min(parts.train.size(), first + 5000), hr.hit_rate);
    }
  }
  auto model = (*graph)->model(order);
  std::printf("top 5 for user 1:");
  for (const auto& s : recommend(model, model.users().find(1), {.n = 5}))
    std::printf(" %lld", static_cast<long long>(s.external_id));
  std::printf("\n");
}
