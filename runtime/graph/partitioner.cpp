#include "recflow/graph/partitioner.hpp"

namespace recflow {

partitioner make_partitioner(const std::string& strategy, std::size_t n, std::uint64_t salt) {
  if (strategy == "hash")
    return hash_partitioner{n, salt};
  if (strategy == "modulo")
    return modulo_partitioner{n};
  return {};
}

}  // namespace recflow
