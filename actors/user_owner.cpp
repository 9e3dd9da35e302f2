#include "actors/user_owner.hpp"

#include <chrono>
#include <deque>

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
  sums_.reset(params_.rank);
  blocks_.reset(item_shards_);
  slots_.clear();
  for (const auto& r : slice.routes) {
    auto key = store_.touch(r.user, stamp_.offset + r.pos);
    ++store_.count(key);
    auto s = sums_.slot(key, store_);
    sums_.count_rating(s);
    slots_.push_back(s);
    blocks_.add(s, r.item_shard);
  }
  answers_.assign(item_shards_, {});
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
    m.bias = sums_.bias_data();
    m.factors = sums_.factor_data();
    sent_.messages += 1;
    sent_.bytes += sizeof(user_rows) + m.local.size() * sizeof(std::uint32_t);
  }
  return out;
}

bool user_owner_state::take(item_rows answer) {
  auto t = answer.from;
  if (answer.pass == 0)
    item_local_[t] = std::move(answer.local);
  answers_[t] = std::move(answer);
  return ++answered_ == item_shards_;
}

std::vector<user_rows> user_owner_state::finish_pass() {
  auto k = std::size_t(params_.rank);
  stream_kernel::with_rank(params_.rank, [&](const auto& o) {
    for (std::size_t r = 0; r < slots_.size(); ++r) {
      auto t = blocks_.block_of(r);
      auto j = blocks_.pos_of(r);
      const auto& a = answers_[t];
      sums_.add(o, slots_[r], a.errors[j], a.factors + std::size_t(item_local_[t][j]) * k);
    }
  });
  sums_.apply(params_);
  answered_ = 0;
  if (++pass_ < std::uint32_t(params_.passes))
    return rows(false);
  sums_.write_back(store_);
  in_batch_ = false;
  ++batches_done_;
  return {};
}

namespace {

struct user_owner_actor {
  std::optional<user_owner_state> core;
  std::deque<user_slice> queue;
  std::vector<caf::actor> items;
  caf::actor coordinator;
  double busy = 0.0;
  bool views = true;  ///< snapshots as shard_view (then hold) or as shard_parts
  bool held = false;  ///< a view is out: start no batch until release_atom
  static inline const char* name = "recflow.user_owner";
};

using user_owner_self = caf::stateful_actor<user_owner_actor>;

void send_rows(user_owner_self* self, std::vector<user_rows> rows) {
  for (std::size_t t = 0; t < rows.size(); ++t)
    self->send(self->state.items[t], std::move(rows[t]));
}

void start_next(user_owner_self* self) {
  auto& st = self->state;
  if (st.core->in_batch() || st.held || st.queue.empty())
    return;
  auto slice = std::move(st.queue.front());
  st.queue.pop_front();
  send_rows(self, st.core->begin(std::move(slice)));
}

caf::behavior user_owner_fn(user_owner_self* self, std::uint32_t shard, std::uint32_t item_shards,
                            stream_params p, caf::actor coordinator, bool views) {
  self->state.core.emplace(shard, item_shards, p);
  self->state.views = views;
  self->state.coordinator = std::move(coordinator);
  using clock = std::chrono::steady_clock;
  return {
    [=](peer_list& peers) { self->state.items = std::move(peers.peers); },
    [=](user_slice& slice) {
      auto t0 = clock::now();
      self->state.queue.push_back(std::move(slice));
      start_next(self);
      self->state.busy += std::chrono::duration<double>(clock::now() - t0).count();
    },
    [=](item_rows& answer) {
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
        if (stamp.snapshot && st.views) {
          st.held = true;
          self->send(st.coordinator, st.core->view());
        } else if (stamp.snapshot) {
          self->send(st.coordinator, st.core->export_parts());
        }
        st.busy += std::chrono::duration<double>(clock::now() - t0).count();
        self->send(st.coordinator, owner_done{stamp.batch, 0, shard, st.core->sent(), st.busy});
        st.busy = 0.0;
        t0 = clock::now();
        start_next(self);
      }
      st.busy += std::chrono::duration<double>(clock::now() - t0).count();
    },
    [=](snapshot_atom) { return self->state.core->export_parts(); },
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
                            const stream_params& p, caf::actor coordinator, bool views) {
  return sys.spawn(user_owner_fn, shard, item_shards, p, std::move(coordinator), views);
}

}  // namespace recflow
