/// The bounded heap and the item scan that scan_top_n and similar_items share (not an
/// interface of the model: include it only from runtime/model/*.cpp).
#pragma once

#include <algorithm>
#include <limits>
#include <span>
#include <vector>

#include "recflow/model/recommend.hpp"

namespace recflow::detail {

inline bool better(const scored_item& a, const scored_item& b) {
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

/// Scans items 0..count-1 scored by `score(i)` (-inf: not a candidate), offering to
/// `heap` those not in `excluded` (ascending) and passing each offered one to `take`. A
/// score below the heap's worst minus `slack` is dropped at once (the cut only rises, so
/// what was taken is a superset of what scores within `slack` of the final worst); the
/// exclusion list is only searched for the few that pass, so the loop is a load, an add
/// and a compare per item.
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

}  // namespace recflow::detail
