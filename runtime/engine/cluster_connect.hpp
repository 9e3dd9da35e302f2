/// Connecting a driver to its nodes, shared by the drivers in runtime/engine (streaming in
/// cluster_engine.cpp, batch ALS in cluster_als.cpp): connect, the protocol handshake,
/// monitoring, and the mesh of direct node-to-node connections. Internal to engine.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/link_layer.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/model/error.hpp"

namespace recflow {

/// "pid 1234 on host": how the nodes' logs name this driver.
std::string cluster_driver_name();

/// Connects to every node in order through `links` (plain or TLS; a refused handshake is
/// an errc::version error naming the node); with a `secret`, proves it to each node and
/// checks each node's proof (a node that does not know it, or refuses this driver's proof,
/// is an errc::io error naming the node); monitors each from `self`, then has every node
/// connect to every other. Returns the node actors, index for index with `nodes`.
result<std::vector<caf::actor>> connect_nodes(caf::actor_system& sys, caf::scoped_actor& self,
                                              link_layer& links,
                                              const std::vector<node_endpoint>& nodes,
                                              const std::string& secret,
                                              std::chrono::milliseconds timeout);

/// The shared-secret challenge (actors/link_auth.hpp) with `node`, named `name` in
/// errors, after its hello: checks the node's proof, then proves the secret as this
/// actor system's node id. errc::io errors: the node asks no secret, does not know it,
/// refuses this driver's proof, or does not answer within `timeout`.
result<void> prove_secret(caf::actor_system& sys, caf::scoped_actor& self, const caf::actor& node,
                          const std::string& name, const std::string& secret,
                          std::chrono::milliseconds timeout);

/// The first node that does not answer a ping within a second (after a stall), as
/// "HOST:PORT"; empty when all answer.
std::string silent_node(caf::scoped_actor& self, const std::vector<caf::actor>& actors,
                        const std::vector<node_endpoint>& nodes);

/// The index of the node whose CAF node id is `id`, if any.
std::optional<std::size_t> node_index(const std::vector<caf::actor>& actors,
                                      const caf::node_id& id);

/// `text` with every node's CAF id replaced by its "HOST:PORT" (for peer names in errors).
std::string name_nodes(std::string text, const std::vector<caf::actor>& actors,
                       const std::vector<node_endpoint>& nodes);

}  // namespace recflow
