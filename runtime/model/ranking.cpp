#include "recflow/model/ranking.hpp"

#include <algorithm>
#include <compare>
#include <optional>
#include <utility>
#include <cmath>
#include <string>
#include <vector>

#include "recflow/model/random.hpp"
#include "recflow/model/recommend.hpp"
#include "recflow/model/top_n.hpp"

namespace recflow {

result<void> validate(const ranking_options& o) {
  if (o.k == 0)
    return error{errc::invalid_argument, "ranking k must be positive, got 0"};
  if (!std::isfinite(o.relevance))
    return error{errc::invalid_argument, "relevance threshold must be a finite number"};
  return {};
}

ranking_metrics ranking_of(std::span<const std::int64_t> ranked,
                           std::span<const std::int64_t> relevant, std::size_t k) {
  ranking_metrics m;
  m.k = k;
  if (relevant.empty() || k == 0) {
    m.users_without_relevant = relevant.empty() ? 1 : 0;
    return m;
  }
  m.users = 1;
  const std::size_t n = std::min(ranked.size(), k);
  double hits = 0.0, dcg = 0.0, precision_sum = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    if (!std::binary_search(relevant.begin(), relevant.end(), ranked[j]))
      continue;
    hits += 1.0;
    dcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
    precision_sum += hits / static_cast<double>(j + 1);
  }
  const std::size_t ideal = std::min(k, relevant.size());
  double idcg = 0.0;
  for (std::size_t j = 0; j < ideal; ++j)
    idcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
  m.precision = hits / static_cast<double>(k);
  m.recall = hits / static_cast<double>(relevant.size());
  m.ndcg = dcg / idcg;
  m.map = precision_sum / static_cast<double>(ideal);
  return m;
}

ranking_metrics evaluate_ranking(const factor_model& model, std::span<const rating> test,
                                 const id_map& users, const id_map& items,
                                 const ranking_options& o, const task_runner& run) {
  // (test user, external item) of every rating, relevant or not: a user with test
  // ratings but none relevant is counted in users_without_relevant.
  struct entry {
    index_t user;
    bool relevant;
    std::int64_t item;
    auto operator<=>(const entry&) const = default;
  };
  std::vector<entry> pairs;
  pairs.reserve(test.size());
  for (const auto& r : test) {
    if (r.user >= users.size() || r.item >= items.size())
      continue;
    pairs.push_back({r.user, static_cast<double>(r.value) >= o.relevance, items.external(r.item)});
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());

  ranking_metrics total;
  total.k = o.k;
  // Each test user with a relevant item, and its relevant items (sorted by external id,
  // without duplicates, as the entries were).
  struct ranked_user {
    index_t model_user;
    std::size_t first, last;  ///< its relevant items in `relevant`
  };
  std::vector<ranked_user> ranked_users;
  std::vector<std::int64_t> relevant;
  for (std::size_t b = 0; b < pairs.size();) {
    const index_t u = pairs[b].user;
    auto first = relevant.size();
    std::size_t e = b;
    for (; e < pairs.size() && pairs[e].user == u; ++e)
      if (pairs[e].relevant)
        relevant.push_back(pairs[e].item);
    b = e;
    if (relevant.size() == first) {
      ++total.users_without_relevant;
      continue;
    }
    ranked_users.push_back({model.users().find(users.external(u)), first, relevant.size()});
  }
  // Top k of every known user in blocks (one float matrix product per block over a
  // float copy of the item table; the lists are recommend()'s); unknown users get the
  // bias ranking, the same for all of them.
  const auto scan = item_scan_table::build(model);
  recommend_options ro{.n = o.k, .exclude_rated = true, .scan = &scan};
  std::vector<top_n_query> queries;
  for (const auto& ru : ranked_users) {
    if (!model.user_known(ru.model_user))
      continue;
    queries.push_back(user_query(model, ru.model_user, ro.exclude_rated));
  }
  auto lists = scan_top_n_many(model, queries, o.k, scan, run);
  std::optional<std::vector<scored_item>> unknown_list;
  std::vector<std::int64_t> ranked;
  std::size_t next_list = 0;
  for (const auto& ru : ranked_users) {
    const std::vector<scored_item>* list = nullptr;
    if (model.user_known(ru.model_user)) {
      list = &lists[next_list++];
    } else {
      if (!unknown_list)
        unknown_list = recommend(model, ru.model_user, ro);
      list = &*unknown_list;
    }
    ranked.clear();
    for (const auto& s : *list)
      ranked.push_back(s.external_id);
    auto one = ranking_of(ranked, std::span<const std::int64_t>(relevant).subspan(
                                    ru.first, ru.last - ru.first),
                          o.k);
    total.precision += one.precision;
    total.recall += one.recall;
    total.ndcg += one.ndcg;
    total.map += one.map;
    ++total.users;
  }
  if (total.users > 0) {
    const auto n = static_cast<double>(total.users);
    total.precision /= n;
    total.recall /= n;
    total.ndcg /= n;
    total.map /= n;
  }
  return total;
}

result<void> validate(const sampled_ranking_options& o) {
  if (o.k == 0)
    return error{errc::invalid_argument, "ranking k must be positive, got 0"};
  if (o.negatives == 0)
    return error{errc::invalid_argument, "sampled negatives must be positive, got 0"};
  if (o.ranker != sampled_ranker::model && o.ranker != sampled_ranker::popularity)
    return error{errc::invalid_argument, "ranker must be model or popularity"};
  return {};
}

namespace {

/// Up to `n` distinct entries of `pool` that are neither in `seen` (sorted) nor `positive`,
/// uniformly without replacement from `rng`; all of them when there are no more than n.
/// A user costs O(|seen| log |pool| + n) unless nearly every item is excluded: the
/// eligible items are counted from the excluded ones, and the draws remember the
/// positions they took, not a flag per item of the pool.
void sample_negatives(std::span<const index_t> pool, std::span<const index_t> seen,
                      index_t positive, std::size_t n, splitmix64& rng,
                      std::vector<index_t>& out) {
  out.clear();
  auto eligible = [&](index_t i) {
    return i != positive && !std::binary_search(seen.begin(), seen.end(), i);
  };
  auto in_pool = [&](index_t i) { return std::binary_search(pool.begin(), pool.end(), i); };
  std::size_t excluded = 0;  // pool and seen are sorted: the pool's items that are not eligible
  for (std::size_t k = 0; k < seen.size(); ++k)
    if ((k == 0 || seen[k] != seen[k - 1]) && in_pool(seen[k]))
      ++excluded;
  if (in_pool(positive) && !std::binary_search(seen.begin(), seen.end(), positive))
    ++excluded;
  const std::size_t available = pool.size() - excluded;
  if (available <= n) {
    for (auto i : pool)
      if (eligible(i))
        out.push_back(i);
    return;
  }
  thread_local std::vector<std::uint32_t> taken;  // positions drawn, at most n
  taken.clear();
  while (out.size() < n) {
    auto j = rng.below(static_cast<std::uint32_t>(pool.size()));
    if (std::find(taken.begin(), taken.end(), j) != taken.end() || !eligible(pool[j]))
      continue;
    taken.push_back(j);
    out.push_back(pool[j]);
  }
}

}  // namespace

sampled_ranking_metrics evaluate_sampled_ranking(const factor_model& model,
                                                 std::span<const rating> held_out,
                                                 const id_map& users, const id_map& items,
                                                 const sampled_ranking_options& o) {
  sampled_ranking_metrics total;
  total.k = o.k;
  total.negatives = o.negatives;
  std::vector<index_t> pool;  // the model's known items, ascending
  for (index_t i = 0; i < model.n_items(); ++i)
    if (model.item_known(i))
      pool.push_back(i);
  auto score = [&](index_t u, index_t i) {
    return o.ranker == sampled_ranker::popularity ? double(model.item_count()[i])
                                                  : model.raw_predict(u, i);
  };
  std::vector<index_t> negatives;
  for (const auto& r : held_out) {
    if (r.user >= users.size() || r.item >= items.size())
      continue;
    ++total.held_out;
    const auto user_id = users.external(r.user);
    const index_t u = model.users().find(user_id);
    const index_t positive = model.items().find(items.external(r.item));
    if (!model.user_known(u) || !model.item_known(positive)) {
      ++total.unknown;
      continue;
    }
    splitmix64 rng(splitmix64_hash(o.seed) ^ splitmix64_hash(static_cast<std::uint64_t>(user_id)));
    sample_negatives(pool, model.rated().of(u), positive, o.negatives, rng, negatives);
    const double s = score(u, positive);
    std::size_t rank = 0;
    for (auto i : negatives)
      rank += score(u, i) >= s ? 1 : 0;
    if (rank < o.k) {
      total.hit_rate += 1.0;
      total.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
    }
  }
  if (total.held_out > 0) {
    total.hit_rate /= static_cast<double>(total.held_out);
    total.ndcg /= static_cast<double>(total.held_out);
  }
  return total;
}

}  // namespace recflow

namespace recflow {

factor_model popularity_model(const factor_model& m) {
  factor_model::parts p;
  p.rank = 1;
  p.scale = m.scale();
  p.users = m.users();
  p.items = m.items();
  p.user_bias.assign(m.n_users(), 0.0);
  p.item_bias.assign(m.n_items(), 0.0);
  p.U.assign(m.n_users(), 1.0f);
  p.P.reserve(m.n_items());
  for (auto c : m.item_count())
    p.P.push_back(static_cast<float>(c));
  p.user_count = m.user_count();
  p.item_count = m.item_count();
  p.rated = m.rated();
  auto out = factor_model::from_parts(std::move(p));
  return out ? std::move(*out) : factor_model(1, m.scale());  // m's parts agree in size
}

}  // namespace recflow
