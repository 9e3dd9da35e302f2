#include "recflow/actors/als_block_actor.hpp"

#include <chrono>
#include <optional>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/graph/als_wire.hpp"

namespace recflow {

void add_als_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<als_rows>("recflow::als_rows");
  cfg.add_message_type<als_block_done>("recflow::als_block_done");
  cfg.add_message_type<als_block_parts>("recflow::als_block_parts");
  cfg.add_message_type<peer_list>("recflow::peer_list");
}

namespace {

struct als_block_actor {
  std::optional<als_block_state> core;
  std::vector<caf::actor> peers;
  caf::actor coordinator;
  std::uint64_t rows_sent = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t wire_bytes = 0;
  double busy = 0.0;
  bool measure = false;  ///< item blocks: report the squared error of this sweep
  bool wire = false;     ///< peers are in other processes: rows travel as wire frames
  bool failed = false;   ///< a frame was rejected: the job is over for this block
  static inline const char* name = "recflow.als_block";
};

using als_block_self = caf::stateful_actor<als_block_actor>;
using clock = std::chrono::steady_clock;

double since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

void ship(als_block_self* self, std::uint32_t iteration) {
  auto& st = self->state;
  for (auto& m : st.core->ship(iteration)) {
    st.rows_sent += m.bias.size();
    ++st.messages_sent;
    auto to = m.to;
    if (to >= st.peers.size())
      continue;  // no peer list (yet): the coordinator's stall timeout reports it
    // Across processes rows travel as a frame; a peer in this process gets them as they are.
    if (st.wire && st.peers[to].node() != self->node()) {
      auto frame = wire::encode_als_rows(m, std::uint32_t(st.core->factors().rank()));
      st.wire_bytes += frame.size();
      self->send(st.peers[to], wire_frame{std::move(frame)});
    } else {
      self->send(st.peers[to], std::move(m));
    }
  }
}

/// A block with peers in other processes reports a rejected message to the coordinator
/// (naming the block and the sender's node) and takes nothing more.
void reject(als_block_self* self, side owner, std::uint32_t block, const error& e) {
  auto& st = self->state;
  st.failed = true;
  auto from = self->current_sender();
  self->send(st.coordinator,
             frame_rejected{std::string(to_string(owner)) + " block "
                            + std::to_string(block) + " rejected a frame from "
                            + (from ? "node " + caf::to_string(from->node())
                                    : std::string("an unknown peer"))
                            + ": " + e.message});
}

/// Stores rows; once the half-iteration is complete, solves and ships (users) or
/// reports to the coordinator (items).
void on_rows(als_block_self* self, side owner, std::uint32_t block, bool complete,
             std::uint32_t iteration, clock::time_point t0) {
  auto& st = self->state;
  if (!complete) {
    st.busy += since(t0);
    return;
  }
  st.core->solve();
  if (owner == side::user) {
    ship(self, iteration);
    st.busy += since(t0);
    return;
  }
  als_block_done d;
  d.iteration = iteration;
  d.block = block;
  d.squared_error = st.measure ? st.core->squared_error() : 0.0;
  d.item_rows_sent = st.rows_sent;
  d.user_rows_received = st.core->rows_received();
  d.messages = st.messages_sent + st.core->messages_received();
  d.busy_seconds = st.busy + since(t0);
  d.wire_bytes = st.wire_bytes;
  st.rows_sent = st.messages_sent = st.wire_bytes = 0;
  st.busy = 0.0;
  st.core->reset_counters();
  self->send(st.coordinator, d);
}

caf::behavior als_block_behavior(als_block_self* self, side owner, std::uint32_t block) {
  return {
    [=](peer_list& peers) { self->state.peers = std::move(peers.peers); },
    [=](als_ship_atom, std::uint32_t iteration, bool measure) {
      auto t0 = clock::now();
      self->state.measure = measure;
      if (!self->state.failed)
        ship(self, iteration);
      self->state.busy += since(t0);
    },
    [=](const als_rows& rows) {
      auto t0 = clock::now();
      auto& st = self->state;
      if (!st.wire)
        return on_rows(self, owner, block, st.core->take(rows), rows.iteration, t0);
      // A block of a cluster may hear from other processes: check before taking.
      if (st.failed)
        return;
      auto complete = st.core->accept(rows);
      if (!complete)
        return reject(self, owner, block, complete.err());
      on_rows(self, owner, block, *complete, rows.iteration, t0);
    },
    [=](const wire_frame& f) {
      auto t0 = clock::now();
      auto& st = self->state;
      if (st.failed)
        return;
      auto rows = wire::decode_als_rows(f.bytes);
      if (!rows)
        return reject(self, owner, block, rows.err());
      auto complete = st.core->accept(*rows);
      if (!complete)
        return reject(self, owner, block, complete.err());
      st.wire_bytes += f.bytes.size();
      on_rows(self, owner, block, *complete, rows->iteration, t0);
    },
    [=](als_export_atom) {
      const auto& core = *self->state.core;
      als_block_parts parts;
      parts.side = owner;
      parts.block = block;
      parts.bias.assign(core.bias().begin(), core.bias().end());
      parts.factors = core.factors().data();
      return parts;
    },
  };
}

caf::behavior als_block_fn(als_block_self* self, std::shared_ptr<const als_block_plan> plan,
                           side owner, std::uint32_t block, als_block_params p,
                           std::shared_ptr<const factor_model> initial, caf::actor coordinator) {
  self->state.core.emplace(std::move(plan), owner, block, p, *initial);
  self->state.coordinator = std::move(coordinator);
  return als_block_behavior(self, owner, block);
}

caf::behavior remote_als_block_fn(als_block_self* self,
                                  std::shared_ptr<const als_block_layout> layout, als_block_params p,
                                  double mu, std::vector<double> bias,
                                  std::vector<float> factors, caf::actor coordinator) {
  auto owner = layout->owner;
  auto block = layout->block;
  self->state.core.emplace(std::move(layout), p, mu, bias, factors);
  self->state.coordinator = std::move(coordinator);
  self->state.wire = true;
  return als_block_behavior(self, owner, block);
}

}  // namespace

caf::actor spawn_als_block(caf::actor_system& sys, std::shared_ptr<const als_block_plan> plan,
                           side owner, std::uint32_t block, const als_block_params& p,
                           std::shared_ptr<const factor_model> initial, caf::actor coordinator) {
  return sys.spawn(als_block_fn, std::move(plan), owner, block, p, std::move(initial),
                   std::move(coordinator));
}

caf::actor spawn_remote_als_block(caf::actor_system& sys,
                                  std::shared_ptr<const als_block_layout> layout,
                                  const als_block_params& p, double mu, std::vector<double> bias,
                                  std::vector<float> factors, caf::actor coordinator) {
  return sys.spawn(remote_als_block_fn, std::move(layout), p, mu, std::move(bias),
                   std::move(factors), std::move(coordinator));
}

void connect_als_blocks(caf::scoped_actor& self, const std::vector<caf::actor>& users,
                        const std::vector<caf::actor>& items) {
  for (const auto& u : users) {
    self->send(u, peer_list{items});
    self->monitor(u);
  }
  for (const auto& i : items) {
    self->send(i, peer_list{users});
    self->monitor(i);
  }
}

}  // namespace recflow
