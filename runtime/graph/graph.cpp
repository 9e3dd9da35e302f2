#include "recflow/graph/graph.hpp"

#include <sstream>

namespace recflow {

const char* to_string(exchange e) noexcept {
  switch (e) {
    case exchange::local: return "local";
    case exchange::by_user: return "by user";
    case exchange::by_item: return "by item";
    case exchange::reply: return "reply";
  }
  return "?";
}

std::vector<graph_edge> streaming_graph::edges() const {
  return {
    {"source", "partition", exchange::local},
    {"partition", "user_owner", exchange::by_user},
    {"partition", "item_owner", exchange::by_item},
    {"user_owner", "item_owner", exchange::by_item},
    {"item_owner", "user_owner", exchange::reply},
  };
}

std::string streaming_graph::describe() const {
  std::ostringstream out;
  out << "streaming graph: " << partitions << " partition(s), user edge "
      << user_partitioner.name() << ", item edge " << item_partitioner.name() << ", rank "
      << training.rank << ", " << training.passes << " pass(es) per batch\n";
  for (const auto& e : edges())
    out << "  " << e.from << " -> " << e.to << " (" << to_string(e.how) << ")\n";
  if (evaluation)
    out << "  evaluation every " << evaluation->every << " batch(es)\n";
  return out.str();
}

streaming_graph make_streaming_graph(std::shared_ptr<rating_source> source,
                                     const stream_params& training, std::size_t partitions,
                                     rating_scale scale) {
  streaming_graph g;
  g.source = std::move(source);
  g.partitions = partitions;
  g.user_partitioner = hash_partitioner{partitions};
  g.item_partitioner = hash_partitioner{partitions, 0x51ed};
  g.training = training;
  g.scale = scale;
  return g;
}

result<void> validate(const streaming_graph& g) {
  auto invalid = [](std::string what) { return error{errc::invalid_argument, std::move(what)}; };
  if (!g.source)
    return invalid("graph has no source");
  if (g.partitions == 0)
    return invalid("partition count must be positive, got 0");
  struct edge {
    const char* name;
    const partitioner& p;
  };
  for (auto [name, p] : {edge{"user", g.user_partitioner}, edge{"item", g.item_partitioner}}) {
    if (!p.valid())
      return invalid(std::string(name) + " partitioner is missing");
    if (p.partitions() != g.partitions)
      return invalid(std::string(name) + " partitioner has " + std::to_string(p.partitions())
                     + " partitions, graph has " + std::to_string(g.partitions));
  }
  if (auto ok = validate(g.training); !ok)
    return ok.err();
  if (g.training.mode != update_mode::batch_gradient)
    return invalid("the graph trains with update_mode::batch_gradient only (sgd updates "
                   "rating by rating and cannot be partitioned)");
  if (g.seed_model) {
    const auto& m = *g.seed_model;
    if (m.rank() != g.training.rank)
      return invalid("seed model has rank " + std::to_string(m.rank()) + ", params say "
                     + std::to_string(g.training.rank));
    if (m.scale().min != g.scale.min || m.scale().max != g.scale.max)
      return invalid("seed model's rating scale differs from the graph's");
  }
  if (g.evaluation) {
    if (!g.evaluation->validation)
      return invalid("evaluation has no validation set");
    if (g.evaluation->every == 0)
      return invalid("evaluation interval must be positive, got 0");
  }
  return {};
}

}  // namespace recflow
