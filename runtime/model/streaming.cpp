#include "recflow/model/streaming.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace recflow {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

result<void> invalid(std::string what) { return error{errc::invalid_argument, std::move(what)}; }

result<void> check_rank(const stream_params& p, const factor_model& m) {
  if (m.rank() != p.rank)
    return invalid("seed model has rank " + std::to_string(m.rank()) + ", params say "
                   + std::to_string(p.rank));
  return {};
}

}  // namespace

result<void> validate(const stream_params& p) {
  if (p.rank <= 0)
    return invalid("rank must be positive, got " + std::to_string(p.rank));
  if (p.passes <= 0)
    return invalid("passes must be positive, got " + std::to_string(p.passes));
  struct named {
    const char* name;
    double value;
  };
  for (auto [name, value] : {named{"gamma", p.gamma}, named{"gamma_bias", p.gamma_bias},
                             named{"lambda", p.lambda}, named{"lambda_bias", p.lambda_bias},
                             named{"init_stddev", p.init_stddev},
                             named{"max_step", p.max_step}})
    if (!std::isfinite(value) || value < 0.0)
      return invalid(std::string(name) + " must be finite and non-negative, got " + num(value));
  if (p.mode != update_mode::batch_gradient && p.mode != update_mode::sgd)
    return invalid("mode must be batch_gradient or sgd, got "
                   + std::to_string(static_cast<int>(p.mode)));
  return {};
}

streaming_trainer::streaming_trainer(const stream_params& p, rating_scale scale)
  : params_(p), model_(p.rank, scale) {
  if (auto ok = validate(p); !ok)
    throw std::invalid_argument(ok.err().message);
}

streaming_trainer::streaming_trainer(const stream_params& p, factor_model seed_model)
  : params_(p), model_(std::move(seed_model)) {
  if (auto ok = validate(p); !ok)
    throw std::invalid_argument(ok.err().message);
  if (auto ok = check_rank(p, model_); !ok)
    throw std::invalid_argument(ok.err().message);
}

result<streaming_trainer> streaming_trainer::make(const stream_params& p, rating_scale scale) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  return streaming_trainer(p, scale);
}

result<streaming_trainer> streaming_trainer::make(const stream_params& p,
                                                  factor_model seed_model) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  if (auto ok = check_rank(p, seed_model); !ok)
    return ok.err();
  return streaming_trainer(p, std::move(seed_model));
}

void streaming_trainer::touched::reset(int r, std::size_t max_keys) {
  rank = std::size_t(r);
  stride = (rank + 15) / 16 * 16;
  if (count.size() < max_keys) {
    factors.resize(max_keys * stride);
    bias.resize(max_keys);
    count.resize(max_keys);
  }
}

namespace {

/// Visits the keys in slot order with the model row of the key a few ahead prefetched:
/// the model's rows are scattered over tables far larger than the caches.
template <class F>
void for_rows(std::span<const index_t> keys, const float* table, std::size_t k, F&& f) {
  constexpr auto ahead = 2 * stream_kernel::prefetch_ahead;
  const auto n = keys.size();
  for (std::size_t s = 0; s < n; ++s) {
    if (s + ahead < n)
      stream_kernel::prefetch(table + std::size_t(keys[s + ahead]) * k, k);
    f(s, std::size_t(keys[s]) * k);
  }
}

RECFLOW_VECTOR_LOOP void gather_impl(std::span<const index_t> keys, std::size_t stride,
                                     float* work, double* work_bias, const double* bias,
                                     const float* table, int rank) {
  const auto k = std::size_t(rank);
  stream_kernel::with_rank(rank, [&](const auto& o) {
    for_rows(keys, table, k, [&](std::size_t s, std::size_t at) {
      o.copy(work + s * stride, table + at);
      work_bias[s] = bias[keys[s]];
    });
  });
}

RECFLOW_VECTOR_LOOP void scatter_impl(std::span<const index_t> keys, std::size_t stride,
                                      const float* work, const double* work_bias, double* bias,
                                      float* table, int rank) {
  const auto k = std::size_t(rank);
  stream_kernel::with_rank(rank, [&](const auto& o) {
    for_rows(keys, table, k, [&](std::size_t s, std::size_t at) {
      o.copy(table + at, work + s * stride);
      bias[keys[s]] = work_bias[s];
    });
  });
}

}  // namespace

namespace stream_kernel {

// The public entry points call the cloned loops from this file only (see
// RECFLOW_VECTOR_LOOP in stream_kernel.hpp).
void gather_rows(std::span<const index_t> keys, std::size_t stride, float* work,
                 double* work_bias, const double* bias, const float* table, int rank) {
  gather_impl(keys, stride, work, work_bias, bias, table, rank);
}

void scatter_rows(std::span<const index_t> keys, std::size_t stride, const float* work,
                  const double* work_bias, double* bias, float* table, int rank) {
  scatter_impl(keys, stride, work, work_bias, bias, table, rank);
}

}  // namespace stream_kernel

void streaming_trainer::touched::gather(const std::vector<double>& model_bias,
                                        const factor_table& f) {
  stream_kernel::gather_rows(keys, stride, factors.data(), bias.data(), model_bias.data(),
                             f.data().data(), int(rank));
}

void streaming_trainer::touched::write_back(std::vector<double>& model_bias, factor_table& f,
                                            std::vector<std::uint32_t>& model_count) {
  stream_kernel::scatter_rows(keys, stride, factors.data(), bias.data(), model_bias.data(),
                              f.data().data(), int(rank));
  for (std::size_t s = 0; s < keys.size(); ++s) {
    model_count[keys[s]] += static_cast<std::uint32_t>(count[s]);
    slot_of[keys[s]] = id_map::npos;
  }
  keys.clear();
}

void streaming_trainer::translation::check(const id_map& table_ids, const id_map& model_ids) {
  if (table_tag == table_ids.tag() && model_tag == model_ids.tag())
    return;
  // Another id space (or a model replaced through model()): start over.
  model_of.clear();
  table_tag = table_ids.tag();
  model_tag = model_ids.tag();
}

index_t streaming_trainer::add_to_model(side s, index_t t, const id_map& table_ids) {
  auto& xlate = (s == side::user ? user_xlate_ : item_xlate_).model_of;
  if (t >= xlate.size())
    xlate.resize(std::max<std::size_t>(table_ids.size(), std::size_t(t) + 1), id_map::npos);
  auto ext = table_ids.external(t);
  auto m = s == side::user ? model_.add_user(ext, params_.seed, params_.init_stddev)
                           : model_.add_item(ext, params_.seed, params_.init_stddev);
  xlate[t] = m;
  return m;
}

result<void> streaming_trainer::apply(std::span<const rating> batch, const id_map& users,
                                      const id_map& items) {
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const auto& r = batch[k];
    if (r.user >= users.size() || r.item >= items.size())
      return error{errc::invalid_argument,
                   "rating " + std::to_string(k) + " of the batch names user index "
                     + std::to_string(r.user) + " and item index " + std::to_string(r.item)
                     + ", but the id maps hold " + std::to_string(users.size()) + " users and "
                     + std::to_string(items.size()) + " items"};
  }
  user_xlate_.check(users, model_.users());
  item_xlate_.check(items, model_.items());
  model_.observe_mean(batch);
  model_.reserve(users.size(), items.size());
  auto users_before = model_.n_users();
  users_.reset(params_.rank, batch.size());
  items_.reset(params_.rank, batch.size());
  // Only the users' new rows wait beside the old ones (batch_gradient_pass): the items step
  // in place and sgd steps every row in place.
  if (params_.mode == update_mode::batch_gradient && users_.next.size() < users_.factors.size())
    users_.next.resize(users_.factors.size());
  if (sums_.size() < users_.stride)
    sums_.assign(users_.stride, 0.0f);
  // Two sweeps over the batch, each with the lookups of a rating a few ahead prefetched:
  // the translation and slot tables are indexed at random and, with the model's rows
  // passing through the caches, most lookups would otherwise miss. First the model
  // indices (adding new ids in batch order), then the slots.
  constexpr std::size_t ahead = 2 * stream_kernel::prefetch_ahead;
  const auto n = batch.size();
  entries_.resize(n);
  {
    const auto& user_of = user_xlate_.model_of;
    const auto& item_of = item_xlate_.model_of;
    for (std::size_t j = 0; j < n; ++j) {
      if (j + ahead < n) {
        const auto& next = batch[j + ahead];
        if (next.user < user_of.size())
          __builtin_prefetch(user_of.data() + next.user);
        if (next.item < item_of.size())
          __builtin_prefetch(item_of.data() + next.item);
      }
      const auto& r = batch[j];
      entries_[j] = {to_model(side::user, r.user, users), to_model(side::item, r.item, items),
                     r.value};
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    if (j + ahead < n) {
      const auto& next = entries_[j + ahead];
      users_.prefetch_slot(next.u);
      items_.prefetch_slot(next.i);
    }
    auto& en = entries_[j];
    en.u = users_.slot(en.u);
    en.i = items_.slot(en.i);
    users_.count[en.u] += 1.0;
    items_.count[en.i] += 1.0;
  }
  // Keep a seed model's rated-items index consistent: new users get empty rows.
  auto& rated = model_.rated();
  if (!rated.empty() && model_.n_users() > users_before)
    rated.offsets.resize(std::size_t(model_.n_users()) + 1, rated.offsets.back());

  users_.gather(model_.user_bias(), model_.U());
  items_.gather(model_.item_bias(), model_.P());
  if (params_.mode == update_mode::batch_gradient)
    group_batch();
  run_passes();
  users_.write_back(model_.user_bias(), model_.U(), model_.user_count());
  items_.write_back(model_.item_bias(), model_.P(), model_.item_count());
  ++batches_;
  return {};
}

void streaming_trainer::group_batch() {
  const auto n = entries_.size();
  // Counting sort by user slot, then by item slot; each is stable, so a key's ratings keep
  // their batch order (the order its sums must follow, see the file comment).
  auto starts = [&](std::size_t slots, auto slot_of) {
    at_.assign(slots + 1, 0);
    for (const auto& en : entries_)
      ++at_[slot_of(en) + 1];
    for (std::size_t s = 0; s < slots; ++s)
      at_[s + 1] += at_[s];
  };
  by_user_.resize(n);
  pos_.resize(n);
  starts(users_.keys.size(), [](const entry& en) { return en.u; });
  for (std::size_t k = 0; k < n; ++k) {
    auto at = at_[entries_[k].u]++;
    by_user_[at] = entries_[k];
    pos_[k] = at;
  }
  by_item_.resize(n);
  starts(items_.keys.size(), [](const entry& en) { return en.i; });
  for (std::size_t k = 0; k < n; ++k) {
    const auto& en = entries_[k];
    by_item_[at_[en.i]++] = {en.i, en.u, pos_[k]};
  }
  errors_.resize(n);
}

void streaming_trainer::run_passes() {
  stream_kernel::with_rank(params_.rank, [&](const auto& ops) {
    for (int pass = 0; pass < params_.passes; ++pass) {
      if (params_.mode == update_mode::batch_gradient)
        batch_gradient_pass(ops);
      else
        sgd_pass(ops);
    }
  });
}

template <class Ops>
void streaming_trainer::batch_gradient_pass(const Ops& ops) {
  const std::size_t k = users_.rank, stride = users_.stride, n = entries_.size();
  constexpr auto ahead = stream_kernel::prefetch_ahead;
  const double mu = model_.mu();
  const auto r = rates_of(params_);
  const float* uf = users_.factors.data();
  float* itf = items_.factors.data();
  float* next_uf = users_.next.data();
  double* ub = users_.bias.data();
  double* ib = items_.bias.data();
  const double* u_count = users_.count.data();
  const double* i_count = items_.count.data();
  double* err = errors_.data();
  float* g = sums_.data();  // the current key's factor gradient sum (zero between keys)
  double g_b = 0.0;         // and its bias gradient sum
  // All errors against the parameters at the start of the pass. By user: each user's
  // ratings (in batch order) are consecutive, so its sums stay in cache and its step is
  // taken after its last rating. No later rating reads that user's row or bias, but the
  // item side below reads the rows the pass began with: the new rows wait in next_uf.
  for (std::size_t j = 0; j < n; ++j) {
    if (j + ahead < n)
      stream_kernel::prefetch(itf + by_user_[j + ahead].i * stride, k);
    const auto& en = by_user_[j];
    const float* u = uf + en.u * stride;
    const float* p = itf + en.i * stride;
    double e = ops.error_of(static_cast<double>(en.r), mu, ub[en.u], ib[en.i], u, p);
    err[j] = e;
    g_b += e;
    ops.accumulate(g, e, p);
    if (j + 1 == n || by_user_[j + 1].u != en.u)  // clears g and g_b
      ops.apply_step_to(next_uf + en.u * stride, ub[en.u], u, g_b, g, u_count[en.u], r);
  }
  // By item, each item's ratings in batch order, against the users' starting rows; an
  // item's row is read only by its own ratings here, so its step goes in place.
  for (std::size_t j = 0; j < n; ++j) {
    if (j + ahead < n)
      stream_kernel::prefetch(uf + by_item_[j + ahead].u * stride, k);
    const auto& en = by_item_[j];
    double e = err[en.k];
    g_b += e;
    ops.accumulate(g, e, uf + en.u * stride);
    if (j + 1 == n || by_item_[j + 1].i != en.i)
      ops.apply_step(ib[en.i], itf + en.i * stride, g_b, g, i_count[en.i], r);
  }
  std::swap(users_.factors, users_.next);
}

template <class Ops>
void streaming_trainer::sgd_pass(const Ops& ops) {
  const std::size_t k = users_.rank, stride = users_.stride, n = entries_.size();
  constexpr auto ahead = stream_kernel::prefetch_ahead;
  const double mu = model_.mu();
  const auto r = rates_of(params_);
  float* uf = users_.factors.data();
  float* itf = items_.factors.data();
  double* ub = users_.bias.data();
  double* ib = items_.bias.data();
  for (std::size_t j = 0; j < n; ++j) {
    if (j + ahead < n) {
      stream_kernel::prefetch(uf + entries_[j + ahead].u * stride, k);
      stream_kernel::prefetch(itf + entries_[j + ahead].i * stride, k);
    }
    const auto& en = entries_[j];
    float* u = uf + en.u * stride;
    float* p = itf + en.i * stride;
    double e = ops.error_of(static_cast<double>(en.r), mu, ub[en.u], ib[en.i], u, p);
    ops.sgd_step(e, ub[en.u], ib[en.i], u, p, r);
  }
}

}  // namespace recflow
