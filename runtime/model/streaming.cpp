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
                             named{"init_stddev", p.init_stddev}})
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

index_t streaming_trainer::touched::slot(index_t key, const std::vector<double>& model_bias,
                                         const factor_table& f) {
  if (key >= slot_of.size())
    slot_of.resize(std::size_t(key) + 1 + slot_of.size() / 2, id_map::npos);
  auto& s = slot_of[key];
  if (s != id_map::npos)
    return s;
  s = static_cast<index_t>(keys.size());
  keys.push_back(key);
  bias.push_back(model_bias[key]);
  auto row = f.row(key);
  factors.insert(factors.end(), row.data(), row.data() + row.size());
  count.push_back(0.0);
  return s;
}

void streaming_trainer::touched::write_back(std::vector<double>& model_bias, factor_table& f) {
  auto k = std::size_t(f.rank());
  for (std::size_t s = 0; s < keys.size(); ++s) {
    model_bias[keys[s]] = bias[s];
    std::copy_n(factors.data() + s * k, k, f.row(keys[s]).data());
    slot_of[keys[s]] = id_map::npos;
  }
  keys.clear();
  bias.clear();
  factors.clear();
  count.clear();
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
  for (const auto& r : batch) {
    auto u = to_model(side::user, r.user, users);
    auto i = to_model(side::item, r.item, items);
    ++model_.user_count()[u];
    ++model_.item_count()[i];
    auto su = users_.slot(u, model_.user_bias(), model_.U());
    auto si = items_.slot(i, model_.item_bias(), model_.P());
    users_.count[su] += 1.0;
    items_.count[si] += 1.0;
    entries_.push_back({su, si, static_cast<double>(r.value)});
  }
  // Keep a seed model's rated-items index consistent: new users get empty rows.
  auto& rated = model_.rated();
  if (!rated.empty() && model_.n_users() > users_before)
    rated.offsets.resize(std::size_t(model_.n_users()) + 1, rated.offsets.back());

  if (params_.mode == update_mode::batch_gradient) {
    for (auto* t : {&users_, &items_}) {
      t->g_bias.assign(t->keys.size(), 0.0);
      t->g_factors.assign(t->factors.size(), 0.0);
    }
  }
  for (int pass = 0; pass < params_.passes; ++pass) {
    if (params_.mode == update_mode::batch_gradient)
      batch_gradient_pass();
    else
      sgd_pass();
  }
  users_.write_back(model_.user_bias(), model_.U());
  items_.write_back(model_.item_bias(), model_.P());
  ++batches_;
  return {};
}

void streaming_trainer::batch_gradient_pass() {
  const int k = params_.rank;
  const auto ks = std::size_t(k);
  const double mu = model_.mu();
  // Errors and sums, all against the parameters at the start of the pass.
  const double* ub = users_.bias.data();
  const double* ib = items_.bias.data();
  const double* uf = users_.factors.data();
  const double* pf = items_.factors.data();
  double* ugb = users_.g_bias.data();
  double* igb = items_.g_bias.data();
  double* ugf = users_.g_factors.data();
  double* igf = items_.g_factors.data();
  for (const auto& en : entries_) {
    const double* u = uf + en.u * ks;
    const double* p = pf + en.i * ks;
    double e = stream_kernel::error_of(en.r, mu, ub[en.u], ib[en.i], u, p, k);
    ugb[en.u] += e;
    igb[en.i] += e;
    stream_kernel::accumulate(ugf + en.u * ks, e, p, k);
    stream_kernel::accumulate(igf + en.i * ks, e, u, k);
  }
  // Each sum applied once; apply_step also clears the sums for the next pass.
  for (auto* t : {&users_, &items_})
    for (std::size_t s = 0; s < t->keys.size(); ++s)
      stream_kernel::apply_step(t->bias[s], t->factors.data() + s * ks, t->g_bias[s],
                                t->g_factors.data() + s * ks, t->count[s], k, params_);
}

void streaming_trainer::sgd_pass() {
  const int k = params_.rank;
  const auto ks = std::size_t(k);
  const double mu = model_.mu();
  double* ub = users_.bias.data();
  double* ib = items_.bias.data();
  double* uf = users_.factors.data();
  double* pf = items_.factors.data();
  for (const auto& en : entries_) {
    double* u = uf + en.u * ks;
    double* p = pf + en.i * ks;
    double e = stream_kernel::error_of(en.r, mu, ub[en.u], ib[en.i], u, p, k);
    stream_kernel::sgd_step(e, ub[en.u], ib[en.i], u, p, k, params_);
  }
}

}  // namespace recflow
