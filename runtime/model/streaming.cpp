#include "model/streaming.hpp"

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

std::size_t streaming_trainer::touched::record(index_t key,
                                              const std::vector<double>& model_bias,
                                              const factor_table& f) {
  if (key >= slot_of.size())
    slot_of.resize(std::size_t(key) + 1 + slot_of.size() / 2, id_map::npos);
  auto& s = slot_of[key];
  if (s == id_map::npos) {
    s = static_cast<index_t>(keys.size());
    keys.push_back(key);
    auto at = records.size();
    records.resize(at + stride, 0.0);
    records[at + bias] = model_bias[key];
    auto row = f.row(key);
    std::copy_n(row.data(), row.size(), records.data() + at + factors);
  }
  return std::size_t(s) * stride;
}

void streaming_trainer::touched::write_back(std::vector<double>& model_bias, factor_table& f) {
  auto k = std::size_t(f.rank());
  for (std::size_t s = 0; s < keys.size(); ++s) {
    const double* rec = records.data() + s * stride;
    model_bias[keys[s]] = rec[bias];
    std::copy_n(rec + factors, k, f.row(keys[s]).data());
    slot_of[keys[s]] = id_map::npos;
  }
  keys.clear();
  records.clear();
}

index_t streaming_trainer::to_model(side s, index_t t, const id_map& table_ids) {
  auto& xlate = s == side::user ? user_xlate_ : item_xlate_;
  const auto& model_ids = s == side::user ? model_.users() : model_.items();
  if (t >= xlate.size())
    xlate.resize(std::max<std::size_t>(table_ids.size(), std::size_t(t) + 1), id_map::npos);
  auto ext = table_ids.external(t);
  auto m = xlate[t];
  // The cache is keyed by table index; checking the external id makes it safe when the
  // caller switches id spaces (two array reads instead of a hash lookup).
  if (m != id_map::npos && m < model_ids.size() && model_ids.external(m) == ext)
    return m;
  m = s == side::user ? model_.add_user(ext, params_.seed, params_.init_stddev)
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
  model_.observe_mean(batch);
  auto users_before = model_.n_users();
  entries_.clear();
  entries_.reserve(batch.size());
  users_.stride = items_.stride = 2 * std::size_t(params_.rank) + touched::factors;
  for (const auto& r : batch) {
    auto u = to_model(side::user, r.user, users);
    auto i = to_model(side::item, r.item, items);
    ++model_.user_count()[u];
    ++model_.item_count()[i];
    auto ru = users_.record(u, model_.user_bias(), model_.U());
    auto ri = items_.record(i, model_.item_bias(), model_.P());
    users_.records[ru + touched::count] += 1.0;
    items_.records[ri + touched::count] += 1.0;
    entries_.push_back({ru, ri, static_cast<double>(r.value)});
  }
  // Keep a seed model's rated-items index consistent: new users get empty rows.
  auto& rated = model_.rated();
  if (!rated.empty() && model_.n_users() > users_before)
    rated.offsets.resize(std::size_t(model_.n_users()) + 1, rated.offsets.back());

  run_passes();
  users_.write_back(model_.user_bias(), model_.U());
  items_.write_back(model_.item_bias(), model_.P());
  ++batches_;
  return {};
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
  constexpr auto b = touched::bias, gb = touched::g_bias, x = touched::factors;
  const auto g = x + std::size_t(params_.rank);  // offset of the factor sums
  const double mu = model_.mu();
  const auto r = rates_of(params_);
  // Errors and sums, all against the parameters at the start of the pass: the pass reads
  // only parameters and writes only sums.
  double* ur = users_.records.data();
  double* ir = items_.records.data();
  for (const auto& en : entries_) {
    double* u = ur + en.u;
    double* p = ir + en.i;
    double e = ops.error_of(en.r, mu, u[b], p[b], u + x, p + x);
    u[gb] += e;
    p[gb] += e;
    ops.accumulate(u + g, e, p + x);
    ops.accumulate(p + g, e, u + x);
  }
  // Each sum applied once; apply_step also clears the sums for the next pass.
  for (auto* t : {&users_, &items_}) {
    double* end = t->records.data() + t->records.size();
    for (double* rec = t->records.data(); rec != end; rec += t->stride)
      ops.apply_step(rec[b], rec + x, rec[gb], rec + g, rec[touched::count], r);
  }
}

template <class Ops>
void streaming_trainer::sgd_pass(const Ops& ops) {
  constexpr auto b = touched::bias, x = touched::factors;
  const double mu = model_.mu();
  const auto r = rates_of(params_);
  double* ur = users_.records.data();
  double* ir = items_.records.data();
  for (const auto& en : entries_) {
    double* u = ur + en.u;
    double* p = ir + en.i;
    double e = ops.error_of(en.r, mu, u[b], p[b], u + x, p + x);
    ops.sgd_step(e, u[b], p[b], u + x, p + x, r);
  }
}

}  // namespace recflow
