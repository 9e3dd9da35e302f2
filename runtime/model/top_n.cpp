#include "model/top_n.hpp"

#include <Eigen/Core>

namespace recflow {

std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const double> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates) {
  std::vector<scored_item> heap;
  if (n == 0)
    return heap;
  heap.reserve(n + 1);
  auto better = [](const scored_item& a, const scored_item& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  // heap.front() is the worst of the best n so far.
  auto offer = [&](index_t i, double score) {
    if (heap.size() == n && !better(scored_item{i, 0, score}, heap.front()))
      return;
    heap.push_back({i, 0, score});
    std::push_heap(heap.begin(), heap.end(), better);
    if (heap.size() > n) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.pop_back();
    }
  };
  const auto& bias = m.item_bias();
  Eigen::Map<const Eigen::VectorXd> xv(x.data(), m.rank());
  auto usable = [&](index_t i) {
    return m.item_known(i) && !std::binary_search(excluded.begin(), excluded.end(), i);
  };
  if (candidates.empty()) {
    using table = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const table> P(m.P().data().data(), m.n_items(), m.rank());
    thread_local Eigen::VectorXd dots;
    dots.noalias() = P * xv;
    const auto& count = m.item_count();
    auto ex = excluded.begin();  // both ascending: walk them together
    for (index_t i = 0; i < m.n_items(); ++i) {
      while (ex != excluded.end() && *ex < i)
        ++ex;
      if (count[i] == 0 || (ex != excluded.end() && *ex == i))
        continue;
      offer(i, base + bias[i] + dots[i]);
    }
  } else {
    for_each_candidate(m, candidates, [&](index_t i) {
      if (usable(i))
        offer(i, base + bias[i] + xv.dot(m.P().row(i)));
    });
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  for (auto& s : heap)
    s.external_id = m.items().external(s.item);
  return heap;
}

}  // namespace recflow
