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
#include "recflow/engine/engine_actors.hpp"
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

namespace {

/// Lays out the blocks of `s` (blocks and initial model set) with `o`'s partitioners.
void plan_blocks(const rating_table& ids, const als_graph_options& o, als_graph_setup& s) {
  const auto& blocks = s.blocks;
  std::vector<std::uint32_t> user_block(blocks.n_users()), item_block(blocks.n_items());
  auto up = als_user_partitioner(o), ip = als_item_partitioner(o);
  for (index_t u = 0; u < blocks.n_users(); ++u)
    user_block[u] = static_cast<std::uint32_t>(up(ids.users.external(blocks.user_of[u])));
  for (index_t i = 0; i < blocks.n_items(); ++i)
    item_block[i] = static_cast<std::uint32_t>(ip(ids.items.external(blocks.item_of[i])));
  s.plan = std::make_shared<const als_block_plan>(als_block_plan::build(
    blocks, user_block, item_block, static_cast<std::uint32_t>(o.partitions)));
}

}  // namespace

result<als_graph_setup> prepare_als_graph(const rating_table& train, const als_params& p,
                                          const als_graph_options& o) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto blocks_or = als_training_blocks(train);
  if (!blocks_or)
    return blocks_or.err();
  als_graph_setup s;
  s.blocks = std::move(*blocks_or);
  s.initial = std::make_shared<const factor_model>(als_initial_model(train, s.blocks, p));
  s.params = p;
  plan_blocks(train, o, s);
  return s;
}

result<als_graph_setup> prepare_implicit_als_graph(const rating_table& events,
                                                   const implicit_params& p,
                                                   const als_graph_options& o) {
  if (auto ok = validate(als_block_params{p}); !ok)
    return ok.err();
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto set = implicit_training(events, p);
  if (!set)
    return set.err();
  als_graph_setup s;
  s.blocks = std::move(set->blocks);
  s.initial = std::make_shared<const factor_model>(std::move(set->initial));
  s.params = p;
  plan_blocks(events, o, s);
  return s;
}

std::size_t als_graph_setup::reporting_blocks() const {
  if (is_implicit(params))
    return plan->items.size();
  std::size_t n = 0;
  for (const auto& b : plan->items)
    n += b.entities.empty() ? 0 : 1;
  return n;
}

void als_graph_setup::score(als_sweep_metrics& m, double squared_error) const {
  if (is_implicit(params))
    m.objective = squared_error;
  else
    m.train_rmse = std::sqrt(squared_error / double(blocks.nnz()));
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
  return run_als_graph(*setup, o, progress);
}

result<factor_model> train_implicit_als_graph(const rating_table& events,
                                              const implicit_params& p,
                                              const als_graph_options& o,
                                              const als_graph_progress& progress) {
  auto setup = prepare_implicit_als_graph(events, p, o);
  if (!setup)
    return setup.err();
  return run_als_graph(*setup, o, progress);
}

result<factor_model> run_als_graph(const als_graph_setup& setup, const als_graph_options& o,
                                   const als_graph_progress& progress) {
  const auto parts = static_cast<std::uint32_t>(o.partitions);
  const auto& initial = setup.initial;
  const auto& plan = setup.plan;
  const auto& p = setup.params;

  caf::actor_system_config cfg;
  add_als_message_types(cfg);
  configure_scheduler(cfg, o.workers, o.priority);
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
    const std::size_t reporting = setup.reporting_blocks();

    for (int it = 1; it <= iterations_of(p) && !failed; ++it) {
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
      setup.score(sm, se);
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
    stop_actors(self, {&users, &items});
  }
  if (failed)
    return *failed;

  finish_als_graph(setup, m);
  return m;
}

}  // namespace recflow
