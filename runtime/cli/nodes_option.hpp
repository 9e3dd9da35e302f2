/// `--nodes host:port,...` of `recflow batch` and `recflow stream`: the `recflow node`
/// processes that hold the owners or blocks.
#pragma once

#include <string>
#include <vector>

#include "recflow/engine/cluster_engine.hpp"

namespace recflow::cli {

/// The endpoints of `list`, given with `--engine engine`: the nodes run the actor graph,
/// so any other engine is refused, as is an address without a valid port.
inline result<std::vector<node_endpoint>> nodes_option(const std::string& list, const std::string& engine) {
  if (engine != "local")
    return error{errc::invalid_argument, "--nodes runs the actor graph: it needs --engine local"};
  return parse_endpoints(list);
}

}  // namespace recflow::cli
