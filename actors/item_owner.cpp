#include "actors/item_owner.hpp"

#include <chrono>
#include <deque>

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
  sums_.reset(params_.rank);
  blocks_.reset(user_shards_);
  slots_.clear();
  values_.clear();
  for (const auto& r : slice.routes) {
    auto key = store_.touch(r.item, stamp_.offset + r.pos);
    ++store_.count(key);
    auto s = sums_.slot(key, store_);
    sums_.count_rating(s);
    slots_.push_back(s);
    values_.push_back(static_cast<double>(r.value));
    blocks_.add(s, r.user_shard);
  }
  rows_.assign(user_shards_, {});
  user_local_.assign(user_shards_, {});
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
  if (rows.pass == 0)
    user_local_[s] = std::move(rows.local);
  rows_[s] = std::move(rows);
  ++received_;
}

std::vector<item_rows> item_owner_state::finish_pass() {
  const int rank = params_.rank;
  const auto k = std::size_t(rank);
  // Every user owner has sent this pass's rows, so all have read the previous pass's
  // item rows: the deferred item step of that pass can be applied now.
  if (step_pending_) {
    sums_.apply(params_);
    step_pending_ = false;
  }
  std::vector<item_rows> out(user_shards_);
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    out[s].batch = stamp_.batch;
    out[s].pass = pass_;
    out[s].from = shard_;
    out[s].errors.resize(blocks_.size_of(s));
  }
  // Join each rating with its user's row and its item's row; errors against the pass-start
  // parameters; item gradients summed in batch order.
  stream_kernel::with_rank(rank, [&](const auto& o) {
    for (std::size_t r = 0; r < slots_.size(); ++r) {
      auto s = blocks_.block_of(r);
      auto j = blocks_.pos_of(r);
      const auto& u = rows_[s];
      auto lu = user_local_[s][j];
      const double* urow = u.factors + std::size_t(lu) * k;
      auto slot = slots_[r];
      double e = o.error_of(values_[r], stamp_.mu, u.bias[lu], sums_.bias(slot), urow,
                            sums_.row(slot));
      out[s].errors[j] = e;
      sums_.add(o, slot, e, urow);
    }
  });
  for (std::uint32_t s = 0; s < user_shards_; ++s) {
    auto& m = out[s];
    if (pass_ == 0)
      m.local = blocks_.slots(s);
    m.factors = sums_.factor_data();
    sent_.messages += 1;
    sent_.bytes += sizeof(item_rows) + m.local.size() * sizeof(std::uint32_t)
                   + m.errors.size() * sizeof(double);
  }
  step_pending_ = true;
  received_ = 0;
  if (++pass_ == std::uint32_t(params_.passes))
    awaiting_consumed_ = true;
  return out;
}

bool item_owner_state::consumed(const rows_consumed&) {
  if (++consumed_ < user_shards_)
    return false;
  sums_.apply(params_);
  step_pending_ = false;
  sums_.write_back(store_);
  consumed_ = 0;
  awaiting_consumed_ = false;
  in_batch_ = false;
  ++batches_done_;
  return true;
}

namespace {

struct item_owner_actor {
  std::optional<item_owner_state> core;
  std::deque<item_slice> queue;
  std::vector<caf::actor> users;
  caf::actor coordinator;
  double busy = 0.0;
  bool views = true;  ///< snapshots as shard_view (then hold) or as shard_parts
  bool held = false;  ///< a view is out: start no batch until release_atom
  static inline const char* name = "recflow.item_owner";
};

using item_owner_self = caf::stateful_actor<item_owner_actor>;

/// Runs every pass that is ready and starts queued batches.
void advance(item_owner_self* self) {
  using clock = std::chrono::steady_clock;
  auto& st = self->state;
  auto t0 = clock::now();
  for (;;) {
    if (!st.core->in_batch()) {
      if (st.queue.empty() || st.held)
        break;
      st.core->begin(std::move(st.queue.front()));
      st.queue.pop_front();
    }
    if (!st.core->ready())
      break;
    auto answers = st.core->finish_pass();
    for (std::size_t s = 0; s < answers.size(); ++s)
      self->send(st.users[s], std::move(answers[s]));
  }
  st.busy += std::chrono::duration<double>(clock::now() - t0).count();
}

caf::behavior item_owner_fn(item_owner_self* self, std::uint32_t shard, std::uint32_t user_shards,
                            stream_params p, caf::actor coordinator, bool views) {
  self->state.core.emplace(shard, user_shards, p);
  self->state.views = views;
  self->state.coordinator = std::move(coordinator);
  return {
    [=](peer_list& peers) { self->state.users = std::move(peers.peers); },
    [=](item_slice& slice) {
      self->state.queue.push_back(std::move(slice));
      advance(self);
    },
    [=](user_rows& rows) {
      self->state.core->take(std::move(rows));
      advance(self);
    },
    [=](const rows_consumed& m) {
      auto& st = self->state;
      auto t0 = std::chrono::steady_clock::now();
      if (!st.core->consumed(m))
        return;
      const auto& stamp = st.core->stamp();
      if (stamp.snapshot && st.views) {
        st.held = true;
        self->send(st.coordinator, st.core->view());
      } else if (stamp.snapshot) {
        self->send(st.coordinator, st.core->export_parts());
      }
      st.busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      self->send(st.coordinator, owner_done{stamp.batch, 1, shard, st.core->sent(), st.busy});
      st.busy = 0.0;
      advance(self);
    },
    [=](snapshot_atom) { return self->state.core->export_parts(); },
    [=](release_atom) {
      self->state.held = false;
      advance(self);
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
                            const stream_params& p, caf::actor coordinator, bool views) {
  return sys.spawn(item_owner_fn, shard, user_shards, p, std::move(coordinator), views);
}

}  // namespace recflow
