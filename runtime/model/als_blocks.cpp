#include "recflow/model/als_blocks.hpp"

namespace recflow {

namespace {

// Compact indices for the table indices that occur: `compact[t]` (npos when absent)
// and the reverse list, both in increasing table index.
void compact_ids(const std::vector<std::uint32_t>& counts, std::vector<index_t>& compact,
                 std::vector<index_t>& reverse) {
  compact.assign(counts.size(), id_map::npos);
  reverse.clear();
  for (index_t t = 0; t < counts.size(); ++t) {
    if (counts[t] > 0) {
      compact[t] = static_cast<index_t>(reverse.size());
      reverse.push_back(t);
    }
  }
}

// Counting sort of the ratings into rows of `row_of`, keeping the given order in a row.
template <class RowOf, class ColOf>
rating_csr fill_csr(std::span<const rating> rs, index_t rows, RowOf row_of, ColOf col_of) {
  rating_csr csr;
  csr.offsets.assign(std::size_t(rows) + 1, 0);
  for (const auto& r : rs)
    ++csr.offsets[row_of(r) + 1];
  for (std::size_t e = 0; e < rows; ++e)
    csr.offsets[e + 1] += csr.offsets[e];
  csr.cols.resize(rs.size());
  csr.values.resize(rs.size());
  auto next = csr.offsets;
  for (const auto& r : rs) {
    auto at = next[row_of(r)]++;
    csr.cols[at] = col_of(r);
    csr.values[at] = r.value;
  }
  return csr;
}

}  // namespace

rating_blocks rating_blocks::build(std::span<const rating> rs, index_t table_users,
                                   index_t table_items) {
  std::vector<std::uint32_t> user_counts(table_users, 0), item_counts(table_items, 0);
  for (const auto& r : rs) {
    ++user_counts[r.user];
    ++item_counts[r.item];
  }
  rating_blocks b;
  std::vector<index_t> cu, ci;
  compact_ids(user_counts, cu, b.user_of);
  compact_ids(item_counts, ci, b.item_of);
  auto user = [&](const rating& r) { return cu[r.user]; };
  auto item = [&](const rating& r) { return ci[r.item]; };
  b.by_user = fill_csr(rs, b.n_users(), user, item);
  b.by_item = fill_csr(rs, b.n_items(), item, user);
  return b;
}

}  // namespace recflow
