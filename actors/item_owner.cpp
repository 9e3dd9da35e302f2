#include "recflow/actors/item_owner.hpp"

#include <chrono>
#include <deque>

#include "recflow/actors/cluster_messages.hpp"

namespace recflow {

item_owner_state::item_owner_state(std::uint32_t shard, std::uint32_t user_shards,
                                   const stream_params& p)
  : shard_(shard), user_shards_(user_shards), params_(p),
    store_(side::item, p.rank, p.seed, p.init_stddev) {}

void item_owner_state::begin(item_slice slice) {
  stamp_ = slice.stamp;
  in_batch_ = true;
  pass_ = 0;
  received_ = 0;
  consumed_ = 0;
  step_pending_ = false;
  awaiting_consumed_ = false;
  sent_ = {};
  ratings_ = slice.routes.size();
  sums_->reset(params_.rank, slice.routes.size(), true);
  store_.begin_batch();
  blocks_.reset(user_shards_);
  values_.clear();
  for (const auto& r : slice.routes) {
    auto key = store_.touch(r.item, stamp_.offset + r.pos);
    ++store_.count(key);
    auto s = sums_->slot(key);
    sums_->count_rating(s);
    values_.push_back(static_cast<double>(r.value));
    blocks_.add(s, r.user_shard);
  }
  blocks_.group(sums_->slots(), &values_);
  sums_->gather(store_);
  rows_.assign(user_shards_, {});
  user_local_.assign(user_shards_, {});
  got_.assign(user_shards_, 0);
  rows_count_.assign(user_shards_, 0);
  auto early = std::move(pending_);
  pending_.clear();
  for (auto& m : early)
    take(std::move(m));
}

void item_owner_state::take(user_rows rows) {
  if (!in_batch_ || rows.batch != stamp_.batch) {
    pending_.push_back(std::move(rows));
    return;
  }
  auto s = rows.from;
  got_[s] = 1;
  if (rows.pass == 0) {
    user_local_[s] = std::move(rows.local);
    rows_count_[s] = rows.rows;
  }
  rows_[s] = std::move(rows);
  ++received_;
}

void item_owner_state::join_pass(std::vector<item_rows>& out) {
  const auto k = std::size_t(params_.rank);
  // This pass's user rows and error arrays, by block.
  user_factors_.resize(user_shards_);
  user_bias_.resize(user_shards_);
  errors_out_.resize(user_shards_);
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    user_factors_[s] = rows_[s].factors;
    user_bias_[s] = rows_[s].bias;
    errors_out_[s] = out[s].errors.data();
  }
  const float* const* uf = user_factors_.data();
  const double* const* ub = user_bias_.data();
  double* const* eo = errors_out_.data();
  const double* values = values_.data();
  const auto* es = blocks_.entries().data();
  const auto n = blocks_.ratings();
  const double mu = stamp_.mu;
  const auto rates = rates_of(params_);
  auto& sums = *sums_;
  float* g = sums.sums();  // the current item's factor gradient sum (zero between items)
  double g_b = 0.0;        // and its bias gradient sum
  // Join each rating with its user's row and its item's row; errors against the pass-start
  // parameters. The ratings are grouped by item, each item's in batch order: its sums stay
  // in cache and it steps at its last rating, into the second row (the user owners read
  // the pass-start rows from the answers; swap_rows once they have).
  constexpr auto ahead = stream_kernel::prefetch_ahead;
  stream_kernel::with_rank(params_.rank, [&](const auto& o) {
    for (std::size_t r = 0; r < n; ++r) {
      if (r + ahead < n)  // the user row of a rating a few ahead
        stream_kernel::prefetch(uf[es[r + ahead].block] + std::size_t(es[r + ahead].row) * k, k);
      const auto& x = es[r];
      const float* urow = uf[x.block] + std::size_t(x.row) * k;
      double e = o.error_of(values[r], mu, ub[x.block][x.row], sums.bias(x.slot), urow,
                            sums.row(x.slot));
      eo[x.block][x.pos] = e;
      g_b += e;
      o.accumulate(g, e, urow);
      if (r + 1 == n || es[r + 1].slot != x.slot)  // clears g and g_b
        sums.step_to(o, x.slot, g_b, g, rates);
    }
  });
}

std::vector<item_rows> item_owner_state::finish_pass() {
  // Every user owner has sent this pass's rows, so all have read the previous pass's
  // item rows: the deferred item step of that pass can be applied now.
  if (step_pending_) {
    sums_->swap_rows();
    step_pending_ = false;
  }
  std::vector<item_rows> out(user_shards_);
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    out[s].batch = stamp_.batch;
    out[s].pass = pass_;
    out[s].from = shard_;
    out[s].errors = std::move(rows_[s].spare);  // every element is written by join_pass
    out[s].errors.resize(blocks_.size_of(s));
  }
  if (pass_ == 0)  // every block's pass-0 rows are in: each rating's user row, once
    blocks_.resolve(user_local_);
  join_pass(out);
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    auto& m = out[s];
    if (pass_ == 0)
      m.local = blocks_.slots(s);
    m.factors = sums_->factor_data();
    m.keep = sums_;
    sent_.messages += 1;
    auto distinct = blocks_.distinct(s).size();
    sent_.rows += distinct;
    sent_.remote_rows += s == shard_ ? 0 : distinct;
    sent_.bytes += sizeof(item_rows) + m.local.size() * sizeof(std::uint32_t)
                   + m.errors.size() * sizeof(double);
  }
  step_pending_ = true;
  received_ = 0;
  got_.assign(user_shards_, 0);
  if (++pass_ == std::uint32_t(params_.passes))
    awaiting_consumed_ = true;
  return out;
}

bool item_owner_state::consumed(const rows_consumed&) {
  if (++consumed_ < user_shards_)
    return false;
  sums_->swap_rows();
  step_pending_ = false;
  sums_->write_back(store_);
  consumed_ = 0;
  awaiting_consumed_ = false;
  in_batch_ = false;
  ++batches_done_;
  return true;
}

std::vector<wire::bytes> item_owner_state::ship(const std::vector<item_rows>& answers) {
  std::vector<wire::bytes> out;
  out.reserve(answers.size());
  for (std::uint32_t s = 0; s < answers.size(); ++s)
    out.push_back(ship_one(answers[s], s));
  return out;
}

wire::bytes item_owner_state::ship_one(const item_rows& m, std::uint32_t s) {
  std::span<const std::uint32_t> local;
  if (m.pass == 0)
    local = blocks_.local(s);
  auto out = wire::encode_rows(wire::kind::item_rows,
                               {.batch = m.batch, .pass = m.pass, .from = m.from,
                                .rank = std::uint32_t(params_.rank), .local = local,
                                .gather = blocks_.distinct(s), .errors = m.errors,
                                .bias = nullptr, .factors = m.factors});
  sent_.bytes -= sizeof(item_rows) + m.local.size() * sizeof(std::uint32_t)
                 + m.errors.size() * sizeof(double);
  sent_.bytes += out.size();
  return out;
}

result<user_rows> item_owner_state::unship(std::span<const char> blob) const {
  auto d = wire::decode_rows(blob, wire::kind::user_rows);
  if (!d)
    return d.err();
  auto fail = [&](const std::string& what) {
    return error{errc::corrupt, "user rows from user shard " + std::to_string(d->from) + " for batch "
                                  + std::to_string(d->batch + 1) + " pass " + std::to_string(d->pass)
                                  + " rejected by item shard " + std::to_string(shard_) + ": " + what};
  };
  if (d->from >= user_shards_)
    return fail("no such user shard (there are " + std::to_string(user_shards_) + ")");
  if (d->rank != std::uint32_t(params_.rank))
    return fail("rank " + std::to_string(d->rank) + ", this job has rank "
                + std::to_string(params_.rank));
  if (in_batch_ && d->batch == stamp_.batch && got_[d->from])
    return fail("a second copy for this pass");
  if (d->pass >= std::uint32_t(params_.passes))
    return fail("pass out of range (" + std::to_string(params_.passes) + " passes)");
  auto keep = std::make_shared<wire::rows>(std::move(*d));
  user_rows out;
  out.batch = keep->batch;
  out.pass = keep->pass;
  out.from = keep->from;
  out.local = std::move(keep->local);
  out.rows = keep->n_rows;
  out.bias = keep->bias.data();
  out.factors = keep->factors.data();
  out.keep = std::move(keep);
  return out;
}

result<void> item_owner_state::check_pass() const {
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    const auto& r = rows_[s];
    auto fail = [&](const std::string& what) {
      return error{errc::corrupt, "user rows from user shard " + std::to_string(s) + " for batch "
                                    + std::to_string(stamp_.batch + 1) + " pass "
                                    + std::to_string(pass_) + " rejected by item shard "
                                    + std::to_string(shard_) + ": " + what};
    };
    if (!got_[s] || r.pass != pass_)
      return fail("rows of another pass, or none");
    if (user_local_[s].size() != blocks_.size_of(s))
      return fail(std::to_string(user_local_[s].size()) + " row indices for a block of "
                  + std::to_string(blocks_.size_of(s)));
    if (pass_ > 0 && (!r.local.empty() || r.rows != rows_count_[s]))
      return fail("the row count differs from pass 0's");
    if (r.rows > 0 && (r.factors == nullptr || r.bias == nullptr))
      return fail("no rows");  // an empty block (no ratings of s here) ships none
  }
  return {};
}

namespace {

struct item_owner_actor {
  std::optional<item_owner_state> core;
  std::deque<item_slice> queue;
  std::vector<caf::actor> users;
  caf::actor coordinator;
  double busy = 0.0;
  bool wire = false;    ///< rows and slices travel as wire frames; snapshots as copies
  bool frame_local = false;  ///< with wire: frames to owners in this process too
  bool failed = false;  ///< a frame was rejected: the job is over for this owner
  bool held = false;    ///< a shard_view is out (no wire): start no batch until release_atom
  static inline const char* name = "recflow.item_owner";
};

using item_owner_self = caf::stateful_actor<item_owner_actor>;

void reject(item_owner_self* self, std::uint32_t shard, const error& e) {
  auto from = self->current_sender();
  self->state.failed = true;
  self->send(self->state.coordinator,
             frame_rejected{"item shard " + std::to_string(shard) + " rejected a frame from "
                            + (from ? "node " + caf::to_string(from->node()) : "an unknown peer")
                            + ": " + e.message});
}

/// Runs every pass that is ready and starts queued batches.
void advance(item_owner_self* self, std::uint32_t shard) {
  using clock = std::chrono::steady_clock;
  auto& st = self->state;
  auto t0 = clock::now();
  for (;;) {
    if (st.failed)
      break;
    if (!st.core->in_batch()) {
      if (st.queue.empty() || st.held)
        break;
      st.core->begin(std::move(st.queue.front()));
      st.queue.pop_front();
    }
    if (!st.core->ready())
      break;
    if (st.wire) {
      if (auto ok = st.core->check_pass(); !ok) {
        reject(self, shard, ok.err());
        break;
      }
      // Owners in this process read the answer in place; others get a frame.
      auto answers = st.core->finish_pass();
      for (std::uint32_t s = 0; s < answers.size(); ++s) {
        if (st.users[s].node() == self->node() && !st.frame_local)
          self->send(st.users[s], std::move(answers[s]));
        else
          self->send(st.users[s], wire_frame{st.core->ship_one(answers[s], s)});
      }
      continue;
    }
    auto answers = st.core->finish_pass();
    for (std::size_t s = 0; s < answers.size(); ++s)
      self->send(st.users[s], std::move(answers[s]));
  }
  st.busy += std::chrono::duration<double>(clock::now() - t0).count();
}

/// A frame from another process: a slice from the partition or a user owner's rows.
void on_frame(item_owner_self* self, std::uint32_t shard, std::uint32_t user_shards,
              const wire_frame& f) {
  auto& st = self->state;
  auto k = wire::peek_kind(f.bytes);
  if (!k)
    return reject(self, shard, k.err());
  if (*k == wire::kind::item_slice) {
    auto s = wire::decode_item_slice(f.bytes, user_shards);
    if (!s)
      return reject(self, shard, s.err());
    st.queue.push_back(item_slice{s->stamp, std::move(s->routes)});
  } else if (*k == wire::kind::user_rows) {
    auto r = st.core->unship(f.bytes);
    if (!r)
      return reject(self, shard, r.err());
    st.core->take(std::move(*r));
  } else {
    return reject(self, shard,
                  error{errc::corrupt, std::string("unexpected ") + wire::to_string(*k) + " frame"});
  }
  advance(self, shard);
}

caf::behavior item_owner_fn(item_owner_self* self, std::uint32_t shard, std::uint32_t user_shards,
                            stream_params p, caf::actor coordinator, bool wire,
                            bool frame_local) {
  self->state.core.emplace(shard, user_shards, p);
  self->state.coordinator = std::move(coordinator);
  self->state.wire = wire;
  self->state.frame_local = wire && frame_local;
  return {
    [=](peer_list& peers) { self->state.users = std::move(peers.peers); },
    [=](item_slice& slice) {
      self->state.queue.push_back(std::move(slice));
      advance(self, shard);
    },
    [=](user_rows& rows) {
      self->state.core->take(std::move(rows));
      advance(self, shard);
    },
    [=](const wire_frame& f) { on_frame(self, shard, user_shards, f); },
    [=](const rows_consumed& m) {
      auto& st = self->state;
      if (st.wire && (m.from >= user_shards || !st.core->in_batch()
                      || m.batch != st.core->stamp().batch))
        return reject(self, shard, error{errc::corrupt, "rows_consumed for batch "
                                                          + std::to_string(m.batch + 1)
                                                          + " out of turn"});
      auto t0 = std::chrono::steady_clock::now();
      if (!st.core->consumed(m))
        return;
      const auto& stamp = st.core->stamp();
      if (stamp.snapshot && !st.wire) {
        st.held = true;
        self->send(st.coordinator, st.core->view());
      } else if (stamp.snapshot) {
        self->send(st.coordinator, st.core->export_parts());
      }
      st.busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      self->send(st.coordinator, owner_done{stamp.batch, side::item, shard, st.core->sent(), st.busy,
                                            st.core->ratings()});
      st.busy = 0.0;
      advance(self, shard);
    },
    [=](snapshot_atom) { return self->state.core->export_parts(); },
    [=](view_atom) {
      auto& st = self->state;
      return answer_view(st.wire, st.held, st.core->view());
    },
    [=](release_atom) {
      self->state.held = false;
      advance(self, shard);
    },
    // Seeding answers "" or the error (the coordinator waits for every shard).
    [=](seed_shard& s) -> std::string {
      auto ok = self->state.core->seed(s);
      return ok ? std::string() : ok.err().message;
    },
  };
}

}  // namespace

caf::actor spawn_item_owner(caf::actor_system& sys, std::uint32_t shard, std::uint32_t user_shards,
                            const stream_params& p, caf::actor coordinator, bool wire,
                            bool frame_local) {
  return sys.spawn(item_owner_fn, shard, user_shards, p, std::move(coordinator), wire,
                   frame_local);
}

}  // namespace recflow
