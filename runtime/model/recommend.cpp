#include "recflow/model/recommend.hpp"

#include <algorithm>

#include "recflow/model/top_n.hpp"

namespace recflow {

rated_items rated_in_model(const factor_model& m, std::span<const rating> rs,
                           const id_map& users, const id_map& items) {
  std::vector<index_t> user_to_model(users.size()), item_to_model(items.size());
  for (index_t u = 0; u < users.size(); ++u)
    user_to_model[u] = m.users().find(users.external(u));
  for (index_t i = 0; i < items.size(); ++i)
    item_to_model[i] = m.items().find(items.external(i));
  std::vector<rating> mapped;
  mapped.reserve(rs.size() + m.rated().items.size());
  for (index_t u = 0; u + 1 < m.rated().offsets.size(); ++u)
    for (auto i : m.rated().of(u))
      mapped.push_back({u, i, 0.0f, 0});
  for (const auto& r : rs) {
    if (r.user >= users.size() || r.item >= items.size())
      continue;
    auto u = user_to_model[r.user];
    auto i = item_to_model[r.item];
    if (u != id_map::npos && i != id_map::npos)
      mapped.push_back({u, i, r.value, r.timestamp});
  }
  return rated_items::build(mapped, m.n_users());
}

top_n_query user_query(const factor_model& m, index_t u, bool exclude_rated) {
  auto row = m.U().row(u);
  return {std::span<const float>(row.data(), std::size_t(m.rank())),
          m.mu() + m.user_bias()[u],
          exclude_rated ? m.rated().of(u) : std::span<const index_t>()};  // sorted
}

std::vector<scored_item> recommend(const factor_model& m, index_t u,
                                   const recommend_options& opts) {
  if (m.user_known(u)) {
    // One matrix-vector product and a bounded heap (top_n.hpp), as the server answers.
    auto q = user_query(m, u, opts.exclude_rated);
    return scan_top_n(m, q.x, q.base, q.excluded, opts.n, opts.candidates, opts.scan);
  }
  // An unknown user: the items ranked by mu + b_i.
  std::vector<scored_item> all;
  if (opts.candidates.empty())
    all.reserve(m.n_items());
  for_each_candidate(m, opts.candidates, [&](index_t i) {
    if (m.item_known(i))
      all.push_back({i, m.items().external(i), m.mu() + m.item_bias()[i]});
  });
  auto better = [](const scored_item& a, const scored_item& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  auto n = std::min(opts.n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    better);
  all.resize(n);
  return all;
}

}  // namespace recflow
