#include "recflow/model/implicit_stream.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "recflow/model/als_solver.hpp"
#include "recflow/model/random.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

/// The shards' Gram matrices summed (exactly), in double.
Eigen::MatrixXd side_gram(std::span<const implicit_shard* const> shards, int rank) {
  exact_gram g(rank);
  for (const auto* s : shards)
    g.add(s->gram());
  return g.to_matrix();
}

}  // namespace

result<void> validate(const implicit_stream_params& p) {
  auto als = p.als;
  als.iterations = 1;  // not used by the stream
  if (auto ok = validate(als); !ok)
    return ok;
  if (p.als.weighting != event_weighting::none)
    return invalid("the stream takes weighting none (BM25 and TF-IDF need every event up front)");
  if (p.als.missing_exponent != 0.0)
    return invalid("the stream takes missing exponent 0 (missing weights need every event up front)");
  if (p.passes <= 0)
    return invalid("passes must be positive, got " + std::to_string(p.passes));
  if (p.refresh_every < 0)
    return invalid("refresh every must be non-negative, got " + std::to_string(p.refresh_every));
  return {};
}

result<void> validate(const implicit_stream_params& p, const factor_model* seed) {
  if (auto ok = validate(p); !ok)
    return ok;
  if (seed && seed->rank() != p.als.rank)
    return invalid("seed model has rank " + std::to_string(seed->rank()) + ", params say "
                   + std::to_string(p.als.rank));
  return {};
}

result<void> validate_events(std::span<const stamped_event> events) {
  for (std::size_t j = 0; j < events.size(); ++j)
    if (!(events[j].weight > 0.0f && std::isfinite(events[j].weight)))
      return invalid("event " + std::to_string(j + 1) + " of the batch has weight "
                     + shown_parameter(double(events[j].weight))
                     + "; event weights must be positive and finite");
  return {};
}

implicit_shard::implicit_shard(side owner, const implicit_stream_params& p)
  : owner_(owner), params_(p), rows_(p.als.rank), gram_(p.als.rank), solver_(p.als),
    gathered_(p.als.rank) {}

index_t implicit_shard::key_of(std::int64_t id) {
  const auto before = ids_.size();
  const index_t key = ids_.insert(id);
  if (ids_.size() != before) {  // new: its seeded row joins the Gram matrix
    rows_.resize(key + 1);
    initial_factors(params_.als.seed, owner_, id, params_.als.init_stddev, rows_.row_span(key));
    gram_.add(rows_.row_span(key));
    events_.emplace_back();
    is_touched_.push_back(0);
  }
  return key;
}

void implicit_shard::add_events(std::span<const stamped_event> events, std::uint64_t batch) {
  for (index_t k : touched_)
    is_touched_[k] = 0;
  touched_.clear();
  if (const auto every = std::uint64_t(params_.refresh_every); every > 0)
    for (index_t k = 0; k < ids_.size(); ++k)
      if (splitmix64_hash(std::uint64_t(ids_.external(k))) % every == batch % every) {
        is_touched_[k] = 1;
        touched_.push_back(k);
      }
  const bool user = owner_ == side::user;
  for (const auto& e : events) {
    const index_t key = key_of(user ? e.user : e.item);
    const std::int64_t other = user ? e.item : e.user;
    auto& list = events_[key];
    auto at = std::lower_bound(list.begin(), list.end(), other,
                               [](const entity_event& x, std::int64_t id) { return x.other < id; });
    if (at != list.end() && at->other == other) {
      at->weight += e.weight;  // repeated events add up
      at->stamp = std::max(at->stamp, e.stamp);
    } else {
      list.insert(at, entity_event{other, e.weight, e.stamp});
    }
    if (!is_touched_[key]) {
      is_touched_[key] = 1;
      touched_.push_back(key);
    }
  }
}

template <class RowOf>
void implicit_shard::solve_with(RowOf&& row_of, const Eigen::MatrixXd& gram) {
  solver_.use_gram(gram);
  const auto k = std::size_t(params_.als.rank);
  const bool recency = owner_ == side::user && params_.als.recency_boost != 0.0;  // users' own
  std::vector<float> old(k);
  for (index_t key : touched_) {
    auto& list = events_[key];
    const auto n = list.size();
    gathered_.resize(index_t(n));
    sequence_.resize(n);
    std::iota(sequence_.begin(), sequence_.end(), index_t{0});
    weights_.resize(n);
    if (recency) {
      stamps_.resize(n);
      for (std::size_t j = 0; j < n; ++j)
        stamps_[j] = list[j].stamp;
      std::sort(stamps_.begin(), stamps_.end());
    }
    for (std::size_t j = 0; j < n; ++j) {
      auto& e = list[j];
      const float* src = row_of(e);
      std::copy(src, src + k, gathered_.row_span(index_t(j)).data());
      weights_[j] = e.weight;
      if (recency) {
        const auto later = std::size_t(
          stamps_.end() - std::upper_bound(stamps_.begin(), stamps_.end(), e.stamp));
        weights_[j] = float(double(e.weight) * recency_factor(params_.als, later));
      }
    }
    auto row = rows_.row_span(key);
    std::copy(row.begin(), row.end(), old.begin());
    solver_.solve(sequence_, weights_, gathered_, row);
    gram_.remove(old);
    gram_.add(row);
  }
}

void implicit_shard::solve(const implicit_side_view& other, const Eigen::MatrixXd& gram) {
  solve_with(
    [&](entity_event& e) {
      if (e.shard == id_map::npos) {  // where the other side keeps this row, once
        e.shard = other.shard_of(e.other);
        e.row = other.shards[e.shard]->ids().find(e.other);
      }
      return other.shards[e.shard]->rows().row_span(e.row).data();
    },
    gram);
}

void implicit_shard::solve(const implicit_rows& other, const Eigen::MatrixXd& gram) {
  solve_with(
    [&](const entity_event& e) {
      const auto at = std::lower_bound(other.ids.begin(), other.ids.end(), e.other);
      return other.rows.row_span(index_t(at - other.ids.begin())).data();
    },
    gram);
}

std::vector<std::int64_t> implicit_shard::needed() const {
  std::vector<std::int64_t> out;
  for (index_t key : touched_)
    for (const auto& e : events_[key])
      out.push_back(e.other);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

implicit_rows implicit_shard::rows_of(std::span<const std::int64_t> ids) const {
  implicit_rows out{{}, factor_table(params_.als.rank)};
  for (auto id : ids) {
    const index_t key = ids_.find(id);
    if (key == id_map::npos)
      continue;
    out.ids.push_back(id);
    out.rows.resize(index_t(out.ids.size()));
    const auto src = rows_.row_span(key);
    std::copy(src.begin(), src.end(), out.rows.row_span(index_t(out.ids.size() - 1)).begin());
  }
  return out;
}

implicit_shard_parts implicit_shard::parts() const {
  implicit_shard_parts p;
  p.owner = owner_;
  p.ids = ids_.externals();
  p.rows = rows_;
  p.offsets.reserve(events_.size() + 1);
  p.offsets.push_back(0);
  for (const auto& list : events_) {
    for (const auto& e : list)
      p.events.push_back(entity_event{e.other, e.weight, e.stamp});
    p.offsets.push_back(p.events.size());
  }
  return p;
}

result<implicit_shard> implicit_shard::from_parts(implicit_shard_parts parts,
                                                  const implicit_stream_params& p) {
  const auto n = parts.ids.size();
  const auto what = std::string(to_string(parts.owner)) + " shard: ";
  if (parts.rows.rank() != p.als.rank || std::size_t(parts.rows.rows()) != n)
    return invalid(what + std::to_string(parts.rows.rows()) + " rows of rank "
                   + std::to_string(parts.rows.rank()) + " for " + std::to_string(n)
                   + " keys of rank " + std::to_string(p.als.rank));
  if (parts.offsets.size() != n + 1 || parts.offsets.front() != 0
      || parts.offsets.back() != parts.events.size())
    return invalid(what + "event offsets do not fit " + std::to_string(n) + " keys and "
                   + std::to_string(parts.events.size()) + " events");
  for (std::size_t k = 0; k < n; ++k)
    if (parts.offsets[k + 1] < parts.offsets[k])
      return invalid(what + "event offsets decrease at key " + std::to_string(parts.ids[k]));
  for (float x : parts.rows.data())
    if (!std::isfinite(x))
      return invalid(what + "a row is not finite");
  implicit_shard s(parts.owner, p);
  s.ids_.reserve(n);
  for (std::size_t k = 0; k < n; ++k)
    if (s.ids_.insert(parts.ids[k]) != k)
      return invalid(what + "key " + std::to_string(parts.ids[k]) + " appears twice");
  s.rows_ = std::move(parts.rows);
  s.gram_.add(s.rows_);
  s.events_.resize(n);
  s.is_touched_.assign(n, 0);
  for (std::size_t k = 0; k < n; ++k) {
    auto& list = s.events_[k];
    for (auto j = parts.offsets[k]; j < parts.offsets[k + 1]; ++j) {
      const auto& e = parts.events[j];
      if (!list.empty() && !(list.back().other < e.other))
        return invalid(what + "the events of key " + std::to_string(parts.ids[k])
                       + " are not strictly increasing by id");
      if (!(e.weight > 0.0f && std::isfinite(e.weight)))
        return invalid(what + "an event of key " + std::to_string(parts.ids[k])
                       + " has weight " + shown_parameter(double(e.weight)));
      list.push_back(entity_event{e.other, e.weight, e.stamp});
    }
  }
  return s;
}

void implicit_shard::seed(const factor_model& m, const std::function<bool(std::int64_t)>& mine) {
  const bool user = owner_ == side::user;
  const auto& ids = user ? m.users() : m.items();
  const auto& table = user ? m.U() : m.P();
  for (index_t e = 0; e < ids.size(); ++e) {
    const std::int64_t id = ids.external(e);
    if (!(user ? m.user_known(e) : m.item_known(e)) || !mine(id))
      continue;
    const index_t key = key_of(id);
    gram_.remove(rows_.row_span(key));
    std::copy(table.row(e).data(), table.row(e).data() + table.rank(), rows_.row_span(key).data());
    gram_.add(rows_.row_span(key));
  }
  // Each recorded pair is an event of weight 1, older than the stream's.
  for (index_t u = 0; u < m.users().size(); ++u)
    for (index_t i : m.rated().of(u)) {
      if (i >= m.items().size())
        continue;
      const std::int64_t uid = m.users().external(u), iid = m.items().external(i);
      const std::int64_t key = user ? uid : iid, other = user ? iid : uid;
      if (!ids_.contains(key))
        continue;
      auto& list = events_[ids_.find(key)];
      list.push_back(entity_event{other, 1.0f, 0});
    }
  for (auto& list : events_) {
    std::sort(list.begin(), list.end(),
              [](const entity_event& a, const entity_event& b) { return a.other < b.other; });
    list.erase(std::unique(list.begin(), list.end(),
                           [](const entity_event& a, const entity_event& b) {
                             return a.other == b.other;
                           }),
               list.end());
  }
}

factor_model assemble_implicit_model(std::span<const implicit_shard* const> users,
                                     std::span<const implicit_shard* const> items, int rank,
                                     const implicit_model_order& order) {
  factor_model m(rank, rating_scale{0.0, 1.0});
  struct where {
    std::uint32_t rank;  // index in the order's map (npos: not there)
    std::int64_t id;
    const implicit_shard* shard;
    index_t key;
  };
  auto sorted = [](std::span<const implicit_shard* const> shards, const id_map* by) {
    std::vector<where> all;
    for (const auto* s : shards)
      for (index_t k = 0; k < s->ids().size(); ++k) {
        const auto id = s->ids().external(k);
        all.push_back({by ? by->find(id) : 0u, id, s, k});
      }
    std::sort(all.begin(), all.end(), [](const where& a, const where& b) {
      return a.rank != b.rank ? a.rank < b.rank : a.id < b.id;
    });
    return all;
  };
  const auto us = sorted(users, order.users), is = sorted(items, order.items);
  m.reserve(us.size(), is.size());
  auto fill = [&](const std::vector<where>& all, side s) {
    for (const auto& w : all) {
      const index_t e = s == side::user ? m.add_user(w.id, 0, 0.0) : m.add_item(w.id, 0, 0.0);
      auto& table = s == side::user ? m.U() : m.P();
      const auto src = w.shard->rows().row(w.key);
      std::copy(src.data(), src.data() + rank, table.row_span(e).data());
      (s == side::user ? m.user_count() : m.item_count())[e] =
        std::uint32_t(w.shard->events_of(w.key).size());
    }
  };
  fill(us, side::user);
  fill(is, side::item);
  rated_items rated;
  rated.offsets.assign(1, 0);
  for (const auto& w : us) {
    const auto first = rated.items.size();
    for (const auto& e : w.shard->events_of(w.key))
      rated.items.push_back(m.items().find(e.other));
    std::sort(rated.items.begin() + std::ptrdiff_t(first), rated.items.end());
    rated.offsets.push_back(rated.items.size());
  }
  m.rated() = std::move(rated);
  return m;
}

result<std::vector<stamped_event>> to_events(std::span<const rating> batch, const id_map& users,
                                             const id_map& items) {
  std::vector<stamped_event> out;
  out.reserve(batch.size());
  for (std::size_t j = 0; j < batch.size(); ++j) {
    const auto& r = batch[j];
    if (r.user >= users.size() || r.item >= items.size())
      return invalid("event " + std::to_string(j + 1) + " of the batch names an index outside "
                     "the id maps");
    out.push_back({users.external(r.user), items.external(r.item), r.value, 0});
  }
  return out;
}

result<void> stamp_events(std::span<stamped_event> events, std::uint64_t first) {
  for (std::size_t j = 0; j < events.size(); ++j)
    events[j].stamp = first + j + 1;
  return validate_events(events);
}

implicit_stream_trainer::implicit_stream_trainer(const implicit_stream_params& p)
  : params_(p), users_(std::make_unique<implicit_shard>(side::user, p)),
    items_(std::make_unique<implicit_shard>(side::item, p)) {}

result<implicit_stream_trainer> implicit_stream_trainer::make(const implicit_stream_params& p,
                                                              const factor_model* seed) {
  if (auto ok = validate(p, seed); !ok)
    return ok.err();
  implicit_stream_trainer t(p);
  if (seed) {
    auto all = [](std::int64_t) { return true; };
    t.users_->seed(*seed, all);
    t.items_->seed(*seed, all);
  }
  return t;
}

result<void> implicit_stream_trainer::apply(std::span<const rating> batch, const id_map& users,
                                            const id_map& items) {
  auto events = to_events(batch, users, items);
  if (!events)
    return events.err();
  return apply(*events);
}

result<void> implicit_stream_updater::apply(std::span<stamped_event> events) {
  if (auto ok = stamp_events(events, stamp_); !ok)
    return ok;
  if (auto ok = step(events, batches_ + 1); !ok)
    return ok;
  stamp_ += events.size();
  ++batches_;
  return {};
}

result<void> implicit_stream_trainer::step(std::span<const stamped_event> events,
                                           std::uint64_t batch) {
  users_->add_events(events, batch);
  items_->add_events(events, batch);
  const implicit_shard* u = users_.get();
  const implicit_shard* i = items_.get();
  const implicit_side_view user_view{{u}, [](std::int64_t) { return 0u; }};
  const implicit_side_view item_view{{i}, [](std::int64_t) { return 0u; }};
  for (int pass = 0; pass < params_.passes; ++pass) {
    users_->solve(item_view, side_gram({&i, 1}, params_.als.rank));
    items_->solve(user_view, side_gram({&u, 1}, params_.als.rank));
  }
  return {};
}

factor_model implicit_stream_trainer::model(const implicit_model_order& order) const {
  const implicit_shard* u = users_.get();
  const implicit_shard* i = items_.get();
  return assemble_implicit_model({&u, 1}, {&i, 1}, params_.als.rank, order);
}

}  // namespace recflow
