/// A batch-ALS block as an actor: the CAF messages of batch ALS on the graph and the
/// thin behaviour around als_block_state (actors/als_block.hpp holds the logic).
///
///   coordinator --(als_ship_atom, k, measure)--> item blocks --(item rows)--> user blocks: solve
///   user blocks --(user rows)--> item blocks: solve --(als_block_done)--> coordinator
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/als_block.hpp"
#include "recflow/actors/messages.hpp"

namespace recflow {

/// Coordinator -> item blocks, with the sweep k and whether to measure its training error.
using als_ship_atom = caf::atom_constant<caf::atom("alsship")>;
using als_export_atom = caf::atom_constant<caf::atom("alsexport")>;  ///< ask for the factors

/// Item block -> coordinator, after solving its items in sweep `iteration`.
struct als_block_done {
  std::uint32_t iteration = 0;
  std::uint32_t block = 0;
  double squared_error = 0.0;           ///< the block's ratings, after the sweep (if measured)
  std::uint64_t item_rows_sent = 0;     ///< item rows shipped in the user half
  std::uint64_t user_rows_received = 0; ///< user rows received in the item half
  std::uint64_t messages = 0;           ///< messages sent plus received by this block
  double busy_seconds = 0.0;            ///< time in this block's handlers for the sweep
  std::uint64_t wire_bytes = 0;         ///< frame bytes sent plus received across processes
};

/// Block -> coordinator: its biases and factors, in its layout's entity order.
struct als_block_parts {
  recflow::side side = recflow::side::user;
  std::uint32_t block = 0;
  std::vector<double> bias;
  std::vector<float> factors;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, als_rows& x) {
  return f(caf::meta::type_name("als_rows"), x.iteration, x.side, x.from, x.to, x.bias,
           x.factors);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, als_block_done& x) {
  return f(caf::meta::type_name("als_block_done"), x.iteration, x.block, x.squared_error,
           x.item_rows_sent, x.user_rows_received, x.messages, x.busy_seconds, x.wire_bytes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, als_block_parts& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>)  // see finite_values
    if (!finite_values(x.bias) || !finite_values(x.factors))
      return non_finite_parameters("an ALS block's parameters");
  return f(caf::meta::type_name("als_block_parts"), x.side, x.block, x.bias, x.factors);
}

/// Registers the messages above (and the graph's peer_list) with `cfg`.
void add_als_message_types(caf::actor_system_config& cfg);

/// Sends each side's blocks the other side's as a peer_list (before any sweep) and has
/// `self`, the coordinator, monitor them all.
void connect_als_blocks(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                        const std::vector<caf::actor>& items);

/// Spawns block `block` of side `owner` of `plan`, starting from `initial`'s rows. Send
/// it the other side's blocks as a peer_list first. Item blocks report to `coordinator`.
caf::actor spawn_als_block(caf::actor_system& sys, std::shared_ptr<const als_block_plan> plan,
                           side owner, std::uint32_t block, const als_block_params& p,
                           std::shared_ptr<const factor_model> initial, caf::actor coordinator);

/// A block on a node, for a driver in another process: rows to blocks in other processes
/// travel as wire frames (graph/als_wire.hpp), to blocks in the same process as als_rows;
/// it checks both against `layout` and its sweep (als_block_state::accept); a bad one is reported to
/// `coordinator` as frame_rejected naming the block and the sending node, and the block
/// ignores what follows. Item blocks report als_block_done with the frame bytes.
caf::actor spawn_remote_als_block(caf::actor_system& sys,
                                  std::shared_ptr<const als_block_layout> layout,
                                  const als_block_params& p, double mu, std::vector<double> bias,
                                  std::vector<float> factors, caf::actor coordinator);

}  // namespace recflow
