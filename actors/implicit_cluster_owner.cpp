#include "recflow/actors/implicit_cluster_owner.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "recflow/actors/messages.hpp"
#include "recflow/graph/implicit_wire.hpp"

namespace recflow {

void add_implicit_cluster_message_types(caf::actor_system_config& cfg) {
  add_implicit_message_types(cfg);
  cfg.add_message_type<implicit_remote_solve>("recflow::implicit_remote_solve");
  cfg.add_message_type<implicit_owner_spec>("recflow::implicit_owner_spec");
}

namespace {

using clock = std::chrono::steady_clock;

side other_side(side s) { return s == side::user ? side::item : side::user; }

/// A solve waiting for the other side's rows.
struct pending_solve {
  wire::implicit_step step;  ///< what the answers must say
  Eigen::MatrixXd gram;
  std::vector<std::int64_t> needed;
  std::vector<implicit_rows> answers;
  std::size_t left = 0;
  clock::time_point t0;
};

struct remote_implicit_owner {
  std::shared_ptr<implicit_shard> shard;
  std::uint32_t number = 0;
  caf::actor coordinator;
  std::vector<caf::actor> peers;  ///< the other side's owners
  std::uint64_t batch = 0;        ///< the last batch whose events arrived
  std::optional<pending_solve> solving;
  bool failed = false;  ///< a frame was rejected: the job is over for this owner
  static inline const char* name = "recflow.implicit_cluster_owner";
};

using owner_self = caf::stateful_actor<remote_implicit_owner>;

std::string who(owner_self* self) {
  auto& st = self->state;
  return std::string(to_string(st.shard->owner())) + " owner " + std::to_string(st.number);
}

/// Reports what went wrong to the coordinator (naming the sender's node) and takes nothing
/// more.
void reject(owner_self* self, const std::string& what) {
  auto& st = self->state;
  st.failed = true;
  st.solving.reset();
  auto from = self->current_sender();
  self->send(st.coordinator,
             frame_rejected{who(self) + " rejected a frame from "
                            + (from ? "node " + caf::to_string(from->node())
                                    : std::string("an unknown peer"))
                            + ": " + what});
}

void report(owner_self* self, std::uint64_t solved, clock::time_point t0) {
  auto& st = self->state;
  self->send(st.coordinator,
             owner_report(*st.shard, st.number, st.batch, solved,
                          std::chrono::duration<double>(clock::now() - t0).count()));
}

/// Every answer is in: their ids together must be exactly the ones asked for.
void finish_solve(owner_self* self) {
  auto& st = self->state;
  auto p = std::move(*st.solving);
  st.solving.reset();
  struct at {
    std::int64_t id;
    std::uint32_t answer;
    index_t row;
  };
  std::vector<at> all;
  for (std::uint32_t a = 0; a < p.answers.size(); ++a)
    for (index_t r = 0; r < p.answers[a].ids.size(); ++r)
      all.push_back({p.answers[a].ids[r], a, r});
  std::sort(all.begin(), all.end(), [](const at& x, const at& y) { return x.id < y.id; });
  bool exact = all.size() == p.needed.size();
  for (std::size_t j = 0; exact && j < all.size(); ++j)
    exact = all[j].id == p.needed[j];
  if (!exact)
    return reject(self, "the other side's owners answered " + std::to_string(all.size())
                          + " rows for " + std::to_string(p.needed.size())
                          + " ids asked (one missing, repeated or not asked for)");
  const auto rank = st.shard->rows().rank();
  implicit_rows rows{std::move(p.needed), factor_table(rank)};
  rows.rows.resize(index_t(all.size()));
  for (std::size_t j = 0; j < all.size(); ++j) {
    const auto src = p.answers[all[j].answer].rows.row_span(all[j].row);
    std::copy(src.begin(), src.end(), rows.rows.row_span(index_t(j)).begin());
  }
  st.shard->solve(rows, p.gram);
  report(self, st.shard->touched().size(), p.t0);
}

void on_rows(owner_self* self, const wire_frame& f) {
  auto& st = self->state;
  if (st.failed || !st.solving)
    return;
  auto got = wire::decode_implicit_rows(f.bytes);
  if (!got)
    return reject(self, got.err().message);
  auto& p = *st.solving;
  if (!(got->step == p.step) || got->rows.rows.rank() != st.shard->rows().rank())
    return reject(self, "rows of batch " + std::to_string(got->step.batch) + " pass "
                          + std::to_string(got->step.pass) + " (rank "
                          + std::to_string(got->rows.rows.rank()) + ") answer another step");
  p.answers.push_back(std::move(got->rows));
  if (--p.left == 0)
    finish_solve(self);
}

void on_solve(owner_self* self, const implicit_remote_solve& m) {
  auto& st = self->state;
  if (st.failed)
    return;
  const auto rank = st.shard->rows().rank();
  exact_gram g;
  if (m.batch != st.batch || st.solving)
    return reject(self, "a solve of batch " + std::to_string(m.batch) + " while at batch "
                          + std::to_string(st.batch));
  if (!g.assign(rank, m.gram))
    return reject(self, "a Gram matrix of " + std::to_string(m.gram.size())
                          + " words for rank " + std::to_string(rank));
  pending_solve p;
  p.step = {m.batch, m.pass, other_side(st.shard->owner())};
  p.gram = g.to_matrix();
  p.needed = st.shard->needed();
  p.t0 = clock::now();
  p.left = st.peers.size();
  if (p.needed.empty() || st.peers.empty()) {
    st.solving = std::move(p);
    return finish_solve(self);
  }
  auto ask = wire_frame{wire::encode_implicit_ids(p.step, p.needed)};
  st.solving = std::move(p);
  for (const auto& peer : st.peers)
    self->request(peer, caf::infinite, implicit_fetch_atom::value, ask)
      .then([=](wire_frame& answer) { on_rows(self, answer); },
            [=](caf::error& e) {
              if (!self->state.failed)
                reject(self, "no rows from the other side: " + self->system().render(e));
            });
}

caf::result<wire_frame> on_fetch(owner_self* self, const wire_frame& f) {
  auto& st = self->state;
  auto got = wire::decode_implicit_ids(f.bytes);
  std::string why;
  if (!got)
    why = got.err().message;
  else if (got->step.of != st.shard->owner() || got->step.batch != st.batch)
    why = "a request for " + std::string(to_string(got->step.of)) + " rows of batch "
          + std::to_string(got->step.batch) + " at batch " + std::to_string(st.batch);
  if (!why.empty()) {
    reject(self, why);
    return caf::make_error(caf::sec::invalid_argument, who(self) + ": " + why);
  }
  return wire_frame{wire::encode_implicit_rows(got->step, st.shard->rows_of(got->ids))};
}

caf::behavior owner_fn(owner_self* self, std::shared_ptr<implicit_shard> shard,
                       std::uint32_t number, caf::actor coordinator) {
  auto& st = self->state;
  st.shard = std::move(shard);
  st.number = number;
  st.coordinator = std::move(coordinator);
  return {
    [=](const peer_list& pl) { self->state.peers = pl.peers; },
    [=](implicit_events_atom, const wire_frame& f) {
      auto& st = self->state;
      if (st.failed)
        return;
      const auto t0 = clock::now();
      auto got = wire::decode_implicit_events(f.bytes);
      if (!got)
        return reject(self, got.err().message);
      if (got->batch != st.batch + 1 || st.solving)
        return reject(self, "the events of batch " + std::to_string(got->batch) + " after batch "
                              + std::to_string(st.batch));
      st.shard->add_events(got->events, got->batch);
      st.batch = got->batch;
      report(self, 0, t0);
    },
    [=](const implicit_remote_solve& m) { on_solve(self, m); },
    [=](implicit_fetch_atom, const wire_frame& f) { return on_fetch(self, f); },
    [=](implicit_export_atom) {
      return wire_frame{wire::encode_implicit_shard(self->state.shard->parts())};
    },
  };
}

}  // namespace

result<caf::actor> spawn_remote_implicit_owner(caf::actor_system& sys,
                                               const implicit_owner_spec& spec) {
  auto shard = std::make_shared<implicit_shard>(spec.side, spec.params);
  if (!spec.seed.bytes.empty()) {
    auto parts = wire::decode_implicit_shard(spec.seed.bytes);
    if (!parts)
      return parts.err();
    if (parts->owner != spec.side)
      return error{errc::corrupt, "the seed is the " + std::string(to_string(parts->owner))
                                    + " side's shard, the owner a " + to_string(spec.side)
                                    + " owner"};
    auto seeded = implicit_shard::from_parts(std::move(*parts), spec.params);
    if (!seeded)
      return error{errc::corrupt, seeded.err().message};
    shard = std::make_shared<implicit_shard>(std::move(*seeded));
  }
  return sys.spawn(owner_fn, std::move(shard), spec.shard, spec.coordinator);
}

}  // namespace recflow
