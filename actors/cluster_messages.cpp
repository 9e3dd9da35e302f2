#include "recflow/actors/cluster_messages.hpp"

#include "recflow/actors/als_cluster_messages.hpp"
#include "recflow/actors/implicit_cluster_owner.hpp"

#include <caf/io/all.hpp>

#include <chrono>

namespace recflow {

void add_cluster_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<wire_frame>("recflow::wire_frame");
  cfg.add_message_type<stream_params>("recflow::stream_params");
  cfg.add_message_type<owner_spec>("recflow::owner_spec");
  cfg.add_message_type<frame_rejected>("recflow::frame_rejected");
  cfg.add_message_type<mesh_request>("recflow::mesh_request");
  add_als_cluster_message_types(cfg);  // batch ALS across nodes (protocol 3)
  add_implicit_cluster_message_types(cfg);  // streaming implicit ALS across nodes (protocol 8)
}

caf::error load_frame_bytes(caf::deserializer& source, std::vector<char>& bytes) {
  std::size_t n = 0;
  if (auto err = source.begin_sequence(n))
    return err;
  const auto* binary = dynamic_cast<const caf::binary_deserializer*>(&source);
  const auto left = binary ? binary->remaining() : max_loaded_frame_bytes;
  if (n > left)
    return caf::make_error(caf::sec::end_of_stream);
  bytes.resize(n);
  if (n > 0)
    if (auto err = source.apply_raw(n, bytes.data()))
      return err;
  return source.end_sequence();
}

void configure_cluster_middleman(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  // Node-to-node connections are made explicitly (mesh_atom) before a job starts: CAF
  // 0.17's automatic connections were seen to lose messages while being set up.
  cfg.set("middleman.enable-automatic-connections", false);
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"recflow"});
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds{500}});
  // No middleman.connection-timeout: with one set (10 s), jobs on freshly started nodes
  // on a loaded machine sometimes failed to connect or stalled; the driver's stall timeout
  // covers silent peers instead.
}

std::string peer_name(const caf::actor_addr& a) {
  if (!a)
    return "an unknown peer";
  return "actor " + std::to_string(a.id()) + " on node " + caf::to_string(a.node());
}

}  // namespace recflow
