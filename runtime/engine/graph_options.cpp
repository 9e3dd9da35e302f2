#include "recflow/engine/graph_options.hpp"

#include <string>
#include <utility>

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

}  // namespace

result<void> validate(const owner_graph_options& o) {
  const auto partitions = o.partitions;
  if (partitions == 0)
    return invalid("partitions must be positive, got 0");
  if (partitions > 65536)
    return invalid("partitions must be at most 65536, got " + std::to_string(partitions));
  if (o.workers == 0)
    return invalid("workers must be positive, got 0");
  if (o.stall_timeout.count() <= 0)
    return invalid("stall timeout must be positive, got "
                   + std::to_string(o.stall_timeout.count()) + " ms");
  for (const auto& [what, part] : {std::pair{"user", &o.user_partitioner},
                                   std::pair{"item", &o.item_partitioner}})
    if (part->valid() && part->partitions() != partitions)
      return invalid(std::string(what) + " partitioner has " + std::to_string(part->partitions())
                     + " partitions, the graph has " + std::to_string(partitions));
  return {};
}

partitioner user_partitioner_or_hash(const partitioner& given, std::size_t partitions) {
  return given.valid() ? given : partitioner(hash_partitioner{partitions});
}

partitioner item_partitioner_or_hash(const partitioner& given, std::size_t partitions) {
  return given.valid() ? given : partitioner(hash_partitioner{partitions, 0x51ed});
}

}  // namespace recflow
