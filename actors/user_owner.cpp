#include "recflow/actors/user_owner.hpp"

#include <chrono>
#include <deque>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/shard_eval.hpp"

namespace recflow {

user_owner_state::user_owner_state(std::uint32_t shard, std::uint32_t item_shards,
                                   const stream_params& p)
  : shard_(shard), item_shards_(item_shards), params_(p),
    store_(side::user, p.rank, p.seed, p.init_stddev) {}

std::vector<user_rows> user_owner_state::begin(user_slice slice) {
  stamp_ = slice.stamp;
  in_batch_ = true;
  pass_ = 0;
  answered_ = 0;
  sent_ = {};
  ratings_ = slice.routes.size();
  sums_->reset(params_.rank, slice.routes.size());
  store_.begin_batch();
  blocks_.reset(item_shards_);
  for (const auto& r : slice.routes) {
    auto key = store_.touch(r.user, stamp_.offset + r.pos);
    ++store_.count(key);
    auto s = sums_->slot(key);
    sums_->count_rating(s);
    blocks_.add(s, r.item_shard);
  }
  blocks_.group(sums_->slots());
  sums_->gather(store_);
  answers_.assign(item_shards_, {});
  got_.assign(item_shards_, 0);
  answer_rows_.assign(item_shards_, 0);
  item_local_.assign(item_shards_, {});
  return rows(true);
}

std::vector<user_rows> user_owner_state::rows(bool first_pass) {
  std::vector<user_rows> out(item_shards_);
  for (std::uint32_t t = 0; t < item_shards_; ++t) {
    auto& m = out[t];
    m.batch = stamp_.batch;
    m.pass = pass_;
    m.from = shard_;
    if (first_pass)
      m.local = blocks_.slots(t);
    else  // the previous pass's answer has been summed: its buffer serves the next answer
      m.spare = std::move(answers_[t].errors);
    m.bias = sums_->bias_data();
    m.factors = sums_->factor_data();
    m.keep = sums_;
    sent_.messages += 1;
    sent_.bytes += sizeof(user_rows) + m.local.size() * sizeof(std::uint32_t);
    auto distinct = blocks_.distinct(t).size();
    sent_.rows += distinct;
    sent_.remote_rows += t == shard_ ? 0 : distinct;
  }
  return out;
}

bool user_owner_state::take(item_rows answer) {
  auto t = answer.from;
  got_[t] = 1;
  if (answer.pass == 0) {
    item_local_[t] = std::move(answer.local);
    answer_rows_[t] = answer.rows;
  }
  answers_[t] = std::move(answer);
  return ++answered_ == item_shards_;
}

void user_owner_state::sum_answers() {
  const auto k = std::size_t(params_.rank);
  item_factors_.resize(item_shards_);
  errors_in_.resize(item_shards_);
  for (std::uint32_t t = 0; t < item_shards_; ++t) {
    item_factors_[t] = answers_[t].factors;
    errors_in_[t] = answers_[t].errors.data();
  }
  const float* const* pf = item_factors_.data();
  const double* const* ei = errors_in_.data();
  const auto* es = blocks_.entries().data();
  const auto n = blocks_.ratings();
  const auto rates = rates_of(params_);
  auto& sums = *sums_;
  float* g = sums.sums();  // the current user's factor gradient sum (zero between users)
  double g_b = 0.0;        // and its bias gradient sum
  constexpr auto ahead = stream_kernel::prefetch_ahead;
  // The ratings grouped by user, each user's in batch order: its sums stay in cache and
  // it steps at its last rating (nothing reads a user's row again in this pass).
  stream_kernel::with_rank(params_.rank, [&](const auto& o) {
    for (std::size_t r = 0; r < n; ++r) {
      if (r + ahead < n)  // the item row of a rating a few ahead
        stream_kernel::prefetch(pf[es[r + ahead].block] + std::size_t(es[r + ahead].row) * k, k);
      const auto& x = es[r];
      const double e = ei[x.block][x.pos];
      g_b += e;
      o.accumulate(g, e, pf[x.block] + std::size_t(x.row) * k);
      if (r + 1 == n || es[r + 1].slot != x.slot)  // clears g and g_b
        sums.step(o, x.slot, g_b, g, rates);
    }
  });
}

std::vector<user_rows> user_owner_state::finish_pass() {
  if (pass_ == 0)  // every block's pass-0 answer is in: each rating's item row, once
    blocks_.resolve(item_local_);
  sum_answers();
  answered_ = 0;
  got_.assign(item_shards_, 0);
  if (++pass_ < std::uint32_t(params_.passes))
    return rows(false);
  sums_->write_back(store_);
  in_batch_ = false;
  ++batches_done_;
  return {};
}

std::vector<wire::bytes> user_owner_state::ship(const std::vector<user_rows>& rows) {
  std::vector<wire::bytes> out;
  out.reserve(rows.size());
  for (std::uint32_t t = 0; t < rows.size(); ++t)
    out.push_back(ship_one(rows[t], t));
  return out;
}

wire::bytes user_owner_state::ship_one(const user_rows& m, std::uint32_t t) {
  std::span<const std::uint32_t> local;
  if (m.pass == 0)
    local = blocks_.local(t);
  auto out = wire::encode_rows(wire::kind::user_rows,
                               {.batch = m.batch, .pass = m.pass, .from = m.from,
                                .rank = std::uint32_t(params_.rank), .local = local,
                                .gather = blocks_.distinct(t), .errors = {}, .bias = m.bias,
                                .factors = m.factors});
  sent_.bytes -= sizeof(user_rows) + m.local.size() * sizeof(std::uint32_t);
  sent_.bytes += out.size();
  return out;
}

result<item_rows> user_owner_state::unship(std::span<const char> blob) const {
  auto d = wire::decode_rows(blob, wire::kind::item_rows);
  if (!d)
    return d.err();
  auto fail = [&](const std::string& what) {
    return error{errc::corrupt, "item rows from item shard " + std::to_string(d->from) + " for batch "
                                  + std::to_string(d->batch + 1) + " pass " + std::to_string(d->pass)
                                  + " rejected by user shard " + std::to_string(shard_) + ": " + what};
  };
  auto t = d->from;
  if (t >= item_shards_)
    return fail("no such item shard (there are " + std::to_string(item_shards_) + ")");
  if (d->rank != std::uint32_t(params_.rank))
    return fail("rank " + std::to_string(d->rank) + ", this job has rank "
                + std::to_string(params_.rank));
  if (!in_batch_ || d->batch != stamp_.batch || d->pass != pass_)
    return fail(in_batch_ ? "expected batch " + std::to_string(stamp_.batch + 1) + " pass "
                              + std::to_string(pass_)
                          : "no batch in progress");
  if (got_[t])
    return fail("a second answer for this pass");
  auto n = blocks_.size_of(t);
  if (d->errors.size() != n)
    return fail(std::to_string(d->errors.size()) + " errors for a block of " + std::to_string(n));
  if (d->pass == 0 ? d->local.size() != n : (!d->local.empty() || d->n_rows != answer_rows_[t]))
    return fail("row indices or row count differ from the block's");
  auto keep = std::make_shared<wire::rows>(std::move(*d));
  item_rows out;
  out.batch = keep->batch;
  out.pass = keep->pass;
  out.from = keep->from;
  out.local = std::move(keep->local);
  out.errors = std::move(keep->errors);
  out.rows = keep->n_rows;
  out.factors = keep->factors.data();
  out.keep = std::move(keep);
  return out;
}

namespace {

struct user_owner_actor {
  std::optional<user_owner_state> core;
  std::deque<user_slice> queue;
  std::vector<caf::actor> items;
  caf::actor coordinator;
  double busy = 0.0;
  bool wire = false;  ///< rows and slices travel as wire frames; snapshots as copies
  bool frame_local = false;  ///< with wire: frames to owners in this process too
  bool held = false;  ///< a shard_view is out (no wire): start no batch until release_atom
  static inline const char* name = "recflow.user_owner";
};

using user_owner_self = caf::stateful_actor<user_owner_actor>;

void send_rows(user_owner_self* self, std::vector<user_rows> rows) {
  auto& st = self->state;
  if (st.wire) {
    // Owners in this process read the rows in place, as in the local engine; others get
    // a frame.
    for (std::uint32_t t = 0; t < rows.size(); ++t) {
      if (st.items[t].node() == self->node() && !st.frame_local)
        self->send(st.items[t], std::move(rows[t]));
      else
        self->send(st.items[t], wire_frame{st.core->ship_one(rows[t], t)});
    }
    return;
  }
  for (std::size_t t = 0; t < rows.size(); ++t)
    self->send(st.items[t], std::move(rows[t]));
}

void start_next(user_owner_self* self) {
  auto& st = self->state;
  if (st.core->in_batch() || st.held || st.queue.empty())
    return;
  auto slice = std::move(st.queue.front());
  st.queue.pop_front();
  send_rows(self, st.core->begin(std::move(slice)));
}

void on_answer(user_owner_self* self, std::uint32_t shard, item_rows answer) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto& st = self->state;
  if (!st.core->take(std::move(answer)))
    return;
  auto next = st.core->finish_pass();
  if (!next.empty()) {
    send_rows(self, std::move(next));
  } else {
    const auto& stamp = st.core->stamp();
    for (auto& item : st.items)
      self->send(item, rows_consumed{stamp.batch, shard});
    if (stamp.snapshot && !st.wire) {
      st.held = true;
      self->send(st.coordinator, st.core->view());
    } else if (stamp.snapshot) {
      self->send(st.coordinator, st.core->export_parts());
    }
    st.busy += std::chrono::duration<double>(clock::now() - t0).count();
    self->send(st.coordinator, owner_done{stamp.batch, side::user, shard, st.core->sent(), st.busy,
                                          st.core->ratings()});
    st.busy = 0.0;
    t0 = clock::now();
    start_next(self);
  }
  st.busy += std::chrono::duration<double>(clock::now() - t0).count();
}

/// A frame from another process: a slice from the partition or an item owner's answer.
void on_frame(user_owner_self* self, std::uint32_t shard, std::uint32_t item_shards,
              const wire_frame& f) {
  auto& st = self->state;
  auto reject = [&](const error& e) {
    auto from = self->current_sender();
    self->send(st.coordinator,
               frame_rejected{"user shard " + std::to_string(shard) + " rejected a frame from "
                              + (from ? "node " + caf::to_string(from->node()) : "an unknown peer")
                              + ": " + e.message});
  };
  auto k = wire::peek_kind(f.bytes);
  if (!k)
    return reject(k.err());
  if (*k == wire::kind::user_slice) {
    auto s = wire::decode_user_slice(f.bytes, item_shards);
    if (!s)
      return reject(s.err());
    auto t0 = std::chrono::steady_clock::now();
    st.queue.push_back(user_slice{s->stamp, std::move(s->routes)});
    start_next(self);
    st.busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } else if (*k == wire::kind::item_rows) {
    auto a = st.core->unship(f.bytes);
    if (!a)
      return reject(a.err());
    on_answer(self, shard, std::move(*a));
  } else {
    reject(error{errc::corrupt, std::string("unexpected ") + wire::to_string(*k) + " frame"});
  }
}

caf::behavior user_owner_fn(user_owner_self* self, std::uint32_t shard, std::uint32_t item_shards,
                            stream_params p, caf::actor coordinator, bool wire,
                            bool frame_local) {
  self->state.core.emplace(shard, item_shards, p);
  self->state.coordinator = std::move(coordinator);
  self->state.wire = wire;
  self->state.frame_local = wire && frame_local;
  using clock = std::chrono::steady_clock;
  return {
    [=](peer_list& peers) { self->state.items = std::move(peers.peers); },
    [=](user_slice& slice) {
      auto t0 = clock::now();
      self->state.queue.push_back(std::move(slice));
      start_next(self);
      self->state.busy += std::chrono::duration<double>(clock::now() - t0).count();
    },
    [=](item_rows& answer) { on_answer(self, shard, std::move(answer)); },
    [=](const wire_frame& f) { on_frame(self, shard, item_shards, f); },
    [=](snapshot_atom) { return self->state.core->export_parts(); },
    [=](view_atom) {
      auto& st = self->state;
      return answer_view(st.wire, st.held, st.core->view());
    },
    // Only while holding after a snapshot batch (the coordinator asks then): every store
    // is as of that batch.
    [=](evaluate_shard& e) {
      e.part->run(self->state.core->store(), *e.items, e.cores);
      // The last owner to finish: every core is written (the others' writes happen
      // before their count down), so the sums may start, each owner its share.
      if (e.round->writing.fetch_sub(1, std::memory_order_acq_rel) == 1)
        for (std::size_t s = 0; s < e.round->owners.size(); ++s)
          self->send(e.round->owners[s], e.round->sums[s]);
    },
    [=](sum_errors& e) {
      sum_error_blocks(e.mu, e.scale, e.cores, e.truth, e.first, e.last, e.out);
      self->send(self->state.coordinator, errors_summed{e.batch});
    },
    [=](release_atom) {
      self->state.held = false;
      start_next(self);
    },
    // Seeding answers "" or the error (the coordinator waits for every shard).
    [=](seed_shard& s) -> std::string {
      auto ok = self->state.core->seed(s);
      return ok ? std::string() : ok.err().message;
    },
  };
}

}  // namespace

caf::actor spawn_user_owner(caf::actor_system& sys, std::uint32_t shard, std::uint32_t item_shards,
                            const stream_params& p, caf::actor coordinator, bool wire,
                            bool frame_local) {
  return sys.spawn(user_owner_fn, shard, item_shards, p, std::move(coordinator), wire,
                   frame_local);
}

}  // namespace recflow
