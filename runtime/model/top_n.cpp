#include "model/top_n.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Core>

namespace recflow {

item_scan_table item_scan_table::build(const factor_model& m) {
  item_scan_table t;
  t.items = m.n_items();
  t.rank = m.rank();
  t.data.resize(std::size_t(t.items) * std::size_t(t.rank));
  t.bias.resize(std::size_t(t.items));
  for (index_t i = 0; i < t.items; ++i) {
    auto row = m.P().row(i);
    double norm2 = 0.0;
    for (int j = 0; j < t.rank; ++j) {
      t.data[std::size_t(j) * std::size_t(t.items) + i] = static_cast<float>(row[j]);
      norm2 += row[j] * row[j];
    }
    t.max_norm = std::max(t.max_norm, std::sqrt(norm2));
    t.bias[i] = m.item_known(i) ? m.item_bias()[i] : -std::numeric_limits<double>::infinity();
  }
  return t;
}

namespace {

bool better(const scored_item& a, const scored_item& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

/// The best `n` offered items; worst() is the worst of them once it holds n.
class bounded_heap {
 public:
  explicit bounded_heap(std::size_t n) : n_(n) { heap_.reserve(n + 1); }
  bool full() const noexcept { return heap_.size() == n_; }
  double worst() const noexcept { return heap_.front().score; }
  void offer(index_t i, double score) {
    if (full() && !better(scored_item{i, 0, score}, heap_.front()))
      return;
    heap_.push_back({i, 0, score});
    std::push_heap(heap_.begin(), heap_.end(), better);
    if (heap_.size() > n_) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.pop_back();
    }
  }
  std::vector<scored_item> sorted(const factor_model& m) && {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    for (auto& s : heap_)
      s.external_id = m.items().external(s.item);
    return std::move(heap_);
  }

 private:
  std::size_t n_;
  std::vector<scored_item> heap_;
};

/// Scans items 0..count-1 scored by `score(i)` (-inf or below `floor`: not an item),
/// offering to `heap` those not in `excluded` (ascending). A score below the heap's
/// worst minus `slack` is dropped at once; the exclusion list is only searched for the
/// few that are not, so the loop is a load, an add and a compare per item.
template <class Score, class Take>
void scan_items(index_t count, std::span<const index_t> excluded, bounded_heap& heap, double slack,
                Score score, Take take) {
  constexpr double floor = std::numeric_limits<double>::lowest();
  double cut = floor;
  for (index_t i = 0; i < count; ++i) {
    double s = score(i);
    if (!(s >= cut) || s == -std::numeric_limits<double>::infinity())
      continue;
    if (!excluded.empty() && std::binary_search(excluded.begin(), excluded.end(), i))
      continue;
    take(i, s);
    heap.offer(i, s);
    if (heap.full())
      cut = heap.worst() - slack;
  }
}

}  // namespace

std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const double> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates, const item_scan_table* fast) {
  if (n == 0)
    return {};
  bounded_heap best(n);
  const auto& bias = m.item_bias();
  Eigen::Map<const Eigen::VectorXd> xv(x.data(), m.rank());
  if (!candidates.empty()) {
    for_each_candidate(m, candidates, [&](index_t i) {
      if (m.item_known(i) && !std::binary_search(excluded.begin(), excluded.end(), i))
        best.offer(i, base + bias[i] + xv.dot(m.P().row(i)));
    });
    return std::move(best).sorted(m);
  }
  // The rounding bound of a float dot product (inputs rounded to float, rank products and
  // sums; 2^-23 is twice float's unit roundoff), with a floor for underflow. Far from
  // float's range (a model no sane training makes), the double scan is used instead.
  double bound = fast ? double(fast->rank + 4) * 0x1p-23 * xv.norm() * fast->max_norm + 1e-30 : 0.0;
  if (fast && fast->fits(m) && m.n_items() > 0 && bound < 1e20) {
    // Single precision picks the candidates: every item whose float score is within
    // 2 * bound of the n-th best float score (the cut only rises, so what passed it while
    // scanning is a superset); double decides among them.
    Eigen::Map<const Eigen::MatrixXf> P(fast->data.data(), fast->items, fast->rank);
    thread_local Eigen::VectorXf dots;
    thread_local std::vector<std::pair<index_t, double>> picked;
    dots.noalias() = P * xv.cast<float>();
    picked.clear();
    bounded_heap rough(n);
    const double* fb = fast->bias.data();
    scan_items(m.n_items(), excluded, rough, 2.0 * bound, [&](index_t i) { return fb[i] + double(dots[i]); },
               [&](index_t i, double s) { picked.emplace_back(i, s); });
    double cut = rough.full() ? rough.worst() - 2.0 * bound : std::numeric_limits<double>::lowest();
    for (auto [i, s] : picked)
      if (s >= cut)
        best.offer(i, base + bias[i] + xv.dot(m.P().row(i)));
    return std::move(best).sorted(m);
  }
  using table = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const table> P(m.P().data().data(), m.n_items(), m.rank());
  thread_local Eigen::VectorXd dots;
  dots.noalias() = P * xv;
  const auto& known = m.item_count();
  scan_items(m.n_items(), excluded, best, 0.0,
             [&](index_t i) { return known[i] == 0 ? -std::numeric_limits<double>::infinity() : base + bias[i] + dots[i]; },
             [](index_t, double) {});
  return std::move(best).sorted(m);
}

}  // namespace recflow
