#include "recflow/engine/als_engine.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/als_block.hpp"
#include "recflow/actors/als_block_actor.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"
#include "recflow/engine/graph_options.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

namespace {

using clock = std::chrono::steady_clock;

}  // namespace

partitioner als_user_partitioner(const als_graph_options& o) {
  return user_partitioner_or_hash(o.user_partitioner, o.partitions);
}

partitioner als_item_partitioner(const als_graph_options& o) {
  return item_partitioner_or_hash(o.item_partitioner, o.partitions);
}

result<als_graph_setup> prepare_als_graph(const rating_table& train, const als_params& p,
                                          const als_graph_options& o) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto blocks_or = als_training_blocks(train);
  if (!blocks_or)
    return blocks_or.err();

  const auto parts = static_cast<std::uint32_t>(o.partitions);
  als_graph_setup s;
  s.blocks = std::move(*blocks_or);
  const auto& blocks = s.blocks;
  s.initial = std::make_shared<const factor_model>(als_initial_model(train, blocks, p));
  std::vector<std::uint32_t> user_block(blocks.n_users()), item_block(blocks.n_items());
  auto up = als_user_partitioner(o), ip = als_item_partitioner(o);
  for (index_t u = 0; u < blocks.n_users(); ++u)
    user_block[u] = static_cast<std::uint32_t>(up(train.users.external(blocks.user_of[u])));
  for (index_t i = 0; i < blocks.n_items(); ++i)
    item_block[i] = static_cast<std::uint32_t>(ip(train.items.external(blocks.item_of[i])));
  s.plan = std::make_shared<const als_block_plan>(
    als_block_plan::build(blocks, user_block, item_block, parts));
  return s;
}

void add_block_report(als_sweep_metrics& m, double& squared_error, const als_block_done& d) {
  squared_error += d.squared_error;
  m.item_rows_shipped += d.item_rows_sent;
  m.user_rows_shipped += d.user_rows_received;
  m.messages += d.messages;
  m.busy_seconds += d.busy_seconds;
  m.wire_bytes += d.wire_bytes;
}

void finish_als_graph(const als_graph_setup& s, factor_model& m) {
  m.rated() = als_rated_items(s.blocks);  // as train_als builds it
}

result<factor_model> train_als_graph(const rating_table& train, const als_params& p,
                                     const als_graph_options& o,
                                     const als_graph_progress& progress) {
  auto setup = prepare_als_graph(train, p, o);
  if (!setup)
    return setup.err();
  const auto parts = static_cast<std::uint32_t>(o.partitions);
  const auto& blocks = setup->blocks;
  const auto& initial = setup->initial;
  const auto& plan = setup->plan;

  caf::actor_system_config cfg;
  add_als_message_types(cfg);
  configure_scheduler(cfg, o.workers);
  caf::actor_system sys(cfg);
  std::optional<error> failed;
  factor_model m = *initial;
  {
    caf::scoped_actor self(sys);
    auto me = caf::actor_cast<caf::actor>(self);
    std::vector<caf::actor> users, items;
    for (std::uint32_t b = 0; b < parts; ++b) {
      users.push_back(spawn_als_block(sys, plan, side::user, b, p, initial, me));
      items.push_back(spawn_als_block(sys, plan, side::item, b, p, initial, me));
    }
    connect_als_blocks(self, users, items);
    std::size_t reporting = 0;  // item blocks with entities
    for (const auto& b : plan->items)
      reporting += b.entities.empty() ? 0 : 1;

    for (int it = 1; it <= p.iterations && !failed; ++it) {
      auto t0 = clock::now();
      for (auto& i : items)
        self->send(i, als_ship_atom::value, static_cast<std::uint32_t>(it), bool(progress));
      als_sweep_metrics sm;
      sm.iteration = it;
      double se = 0.0;
      for (std::size_t done = 0; done < reporting && !failed;) {
        self->receive(
          [&](als_block_done& d) {
            ++done;
            add_block_report(sm, se, d);
          },
          [&](caf::down_msg& dm) {
            failed = error{errc::io,
                           "an ALS block stopped unexpectedly: " + caf::to_string(dm.reason)};
          },
          caf::after(o.stall_timeout) >> [&] {
            failed = error{errc::io, "no progress for " + std::to_string(o.stall_timeout.count())
                                       + " ms; the ALS graph is stuck"};
          });
      }
      sm.seconds = std::chrono::duration<double>(clock::now() - t0).count();
      sm.train_rmse = std::sqrt(se / double(blocks.nnz()));
      if (!failed && progress)
        progress(sm);
    }

    for (auto* group : {&users, &items})
      for (auto& a : *group) {
        if (failed)
          break;
        self->request(a, o.stall_timeout, als_export_atom::value)
          .receive(
            [&](als_block_parts& bp) {
              const auto& layouts = bp.side == side::user ? plan->users : plan->items;
              write_back(layouts[bp.block], bp.bias, bp.factors, m);
            },
            [&](caf::error& e) {
              failed = error{errc::io, "collecting the ALS blocks failed: " + caf::to_string(e)};
            });
      }
    for (auto* group : {&users, &items})
      for (auto& a : *group)
        self->send_exit(a, caf::exit_reason::user_shutdown);
  }
  if (failed)
    return *failed;

  finish_als_graph(*setup, m);
  return m;
}

}  // namespace recflow
