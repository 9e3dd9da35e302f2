#include "recflow/actors/messages.hpp"

namespace recflow {

void add_graph_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<rating_event>("recflow::rating_event");
  cfg.add_message_type<rating_batch>("recflow::rating_batch");
  cfg.add_message_type<batch_stamp>("recflow::batch_stamp");
  cfg.add_message_type<stamped_batch>("recflow::stamped_batch");
  cfg.add_message_type<user_route>("recflow::user_route");
  cfg.add_message_type<item_route>("recflow::item_route");
  cfg.add_message_type<user_slice>("recflow::user_slice");
  cfg.add_message_type<item_slice>("recflow::item_slice");
  cfg.add_message_type<user_rows>("recflow::user_rows");
  cfg.add_message_type<item_rows>("recflow::item_rows");
  cfg.add_message_type<rows_consumed>("recflow::rows_consumed");
  cfg.add_message_type<edge_traffic>("recflow::edge_traffic");
  cfg.add_message_type<owner_done>("recflow::owner_done");
  cfg.add_message_type<partition_done>("recflow::partition_done");
  cfg.add_message_type<shard_parts>("recflow::shard_parts");
  cfg.add_message_type<seed_shard>("recflow::seed_shard");
  cfg.add_message_type<shard_view>("recflow::shard_view");
  cfg.add_message_type<evaluate_shard>("recflow::evaluate_shard");
  cfg.add_message_type<sum_errors>("recflow::sum_errors");
  cfg.add_message_type<errors_summed>("recflow::errors_summed");
  cfg.add_message_type<source_failed>("recflow::source_failed");
  cfg.add_message_type<peer_list>("recflow::peer_list");
}

}  // namespace recflow
