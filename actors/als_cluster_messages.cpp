#include "recflow/actors/als_cluster_messages.hpp"

namespace recflow {

void add_als_cluster_message_types(caf::actor_system_config& cfg) {
  add_als_message_types(cfg);
  cfg.add_message_type<als_params>("recflow::als_params");
  cfg.add_message_type<als_block_spec>("recflow::als_block_spec");
}

}  // namespace recflow
