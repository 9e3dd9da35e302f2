#include "recflow/model/top_n.hpp"

#include "recflow/model/top_n_scan.hpp"
#include "recflow/model/score_block.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Core>

namespace recflow {

namespace {

/// The item factors of `m` as an items x rank matrix (row-major, as stored).
using float_table = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
Eigen::Map<const float_table> item_table(const factor_model& m) {
  return {m.P().data().data(), std::ptrdiff_t(m.n_items()), std::ptrdiff_t(m.rank())};
}

/// x . P_i in double (products of floats are exact in double).
double dot_double(std::span<const float> x, const factor_model& m, index_t i) {
  Eigen::Map<const Eigen::VectorXf> xv(x.data(), std::ptrdiff_t(x.size()));
  return xv.cast<double>().dot(m.P().row(i).cast<double>());
}

}  // namespace

item_scan_table item_scan_table::build(const factor_model& m) {
  item_scan_table t;
  t.items = m.n_items();
  t.rank = m.rank();
  t.bias.resize(std::size_t(t.items));
  t.norm.resize(std::size_t(t.items));
  for (index_t i = 0; i < t.items; ++i) {
    t.norm[i] = m.P().row(i).cast<double>().norm();
    t.max_norm = std::max(t.max_norm, t.norm[i]);
    t.bias[i] = m.item_known(i) ? m.item_bias()[i] : -std::numeric_limits<double>::infinity();
  }
  return t;
}

namespace {

/// The rounding bound of a float dot product of x with any item row (inputs rounded to
/// float, rank products and sums in any order; 2^-23 is twice float's unit roundoff),
/// with a floor for underflow.
double float_bound(const item_scan_table& fast, std::span<const float> x) {
  Eigen::Map<const Eigen::VectorXf> xv(x.data(), std::ptrdiff_t(x.size()));
  return double(fast.rank + 4) * 0x1p-23 * xv.cast<double>().norm() * fast.max_norm + 1e-30;
}

/// One query's top n from float scores (item i: float(P_i) . float(x), computed in any
/// order), fed a range of items at a time: every item whose float score is within 2 *
/// bound of the n-th best float score is a candidate (the cut only rises, so what passed
/// it while scanning is a superset), and double decides among them (finish).
class float_pick {
 public:
  float_pick(std::size_t n, double bound)
    : rough_(n), slack_(2.0 * bound), cut_(std::numeric_limits<double>::lowest()) {}

  /// Items first..first+count-1, their scores dots[0..count-1]; skips 16 items at a time
  /// while they score below the cut (`excluded`: sorted dense indices left out).
  void feed(const item_scan_table& fast, std::span<const index_t> excluded, std::size_t first,
            const float* dots, std::size_t count) {
    const double* fb = fast.bias.data() + first;
    for (auto j = detail::first_at_least(fb, dots, 0, count, cut_); j < count;
         j = detail::first_at_least(fb, dots, j + 1, count, cut_)) {
      const auto item = index_t(first + j);
      if (!excluded.empty() && std::binary_search(excluded.begin(), excluded.end(), item))
        continue;
      const double s = fb[j] + double(dots[j]);
      picked_.emplace_back(item, s);
      rough_.offer(item, s);
      if (rough_.full())
        cut_ = rough_.worst() - slack_;
    }
  }

  /// The n best of the candidates, rescored in double.
  std::vector<scored_item> finish(const factor_model& m, std::span<const float> x, double base,
                                  std::size_t n) && {
    detail::bounded_heap best(n);
    const auto& bias = m.item_bias();
    for (auto [i, s] : picked_)
      if (s >= cut_)
        best.offer(i, base + bias[i] + dot_double(x, m, i));
    return std::move(best).sorted(m);
  }

 private:
  detail::bounded_heap rough_;
  std::vector<std::pair<index_t, double>> picked_;
  double slack_, cut_;
};

/// scan_top_n over float scores of every item (computed beforehand).
std::vector<scored_item> pick_from_float(const factor_model& m, std::span<const float> x,
                                         double base, std::span<const index_t> excluded,
                                         std::size_t n, const item_scan_table& fast,
                                         const float* dots, double bound) {
  float_pick pick(n, bound);
  pick.feed(fast, excluded, 0, dots, std::size_t(m.n_items()));
  return std::move(pick).finish(m, x, base, n);
}

}  // namespace

std::vector<std::vector<scored_item>> scan_top_n_many(const factor_model& m,
                                                      std::span<const top_n_query> queries,
                                                      std::size_t n, const item_scan_table& fast,
                                                      const task_runner& run) {
  std::vector<std::vector<scored_item>> out(queries.size());
  if (n == 0)
    return out;
  if (!fast.fits(m) || m.n_items() == 0) {
    run_tasks(run, queries.size(), [&](std::size_t q) {
      out[q] = scan_top_n(m, queries[q].x, queries[q].base, queries[q].excluded, n);
    });
    return out;
  }
  // Blocks of queries, a task each. A block's scores are computed a chunk of items at a
  // time (score_block: the chunk's item rows are read once for the whole block) and
  // scanned at once, while they are in cache: the scores of a whole block would not fit.
  constexpr std::size_t block = 64, chunk = 1024;
  const auto rank = std::size_t(fast.rank);
  const auto items = std::size_t(m.n_items());
  const float* P = m.P().data().data();
  const auto blocks = (queries.size() + block - 1) / block;
  run_tasks(run, blocks, [&](std::size_t b) {
    thread_local std::vector<float> x, dots;  // this thread's block: queries, scores
    const auto at = b * block;
    const auto size = std::min(block, queries.size() - at);
    x.resize(size * rank);
    dots.resize(size * chunk);
    std::vector<float_pick> picks;
    std::vector<std::size_t> in_float;  // the block's queries scanned in float
    picks.reserve(size);
    for (std::size_t q = 0; q < size; ++q) {
      const auto& query = queries[at + q];
      auto bound = float_bound(fast, query.x);
      if (bound >= 1e20) {  // far from float's range (no sane model): the double scan
        out[at + q] = scan_top_n(m, query.x, query.base, query.excluded, n);
        continue;
      }
      std::copy_n(query.x.data(), rank, x.data() + in_float.size() * rank);
      in_float.push_back(q);
      picks.emplace_back(n, bound);
    }
    const auto nq = in_float.size();
    for (std::size_t first = 0; first < items && nq > 0; first += chunk) {
      const auto count = std::min(chunk, items - first);
      detail::score_block({P + first * rank, count * rank}, rank, {x.data(), nq * rank}, nq,
                          dots.data(), chunk);
      for (std::size_t j = 0; j < nq; ++j)
        picks[j].feed(fast, queries[at + in_float[j]].excluded, first, dots.data() + j * chunk,
                      count);
    }
    for (std::size_t j = 0; j < nq; ++j) {
      const auto& query = queries[at + in_float[j]];
      out[at + in_float[j]] = std::move(picks[j]).finish(m, query.x, query.base, n);
    }
  });
  return out;
}

std::vector<scored_item> scan_top_n(const factor_model& m, std::span<const float> x, double base,
                                    std::span<const index_t> excluded, std::size_t n,
                                    std::span<const index_t> candidates, const item_scan_table* fast) {
  if (n == 0)
    return {};
  detail::bounded_heap best(n);
  const auto& bias = m.item_bias();
  if (!candidates.empty()) {
    for_each_candidate(m, candidates, [&](index_t i) {
      if (m.item_known(i) && !std::binary_search(excluded.begin(), excluded.end(), i))
        best.offer(i, base + bias[i] + dot_double(x, m, i));
    });
    return std::move(best).sorted(m);
  }
  // The rounding bound of a float dot product (inputs rounded to float, rank products and
  // sums; 2^-23 is twice float's unit roundoff), with a floor for underflow. Far from
  // float's range (a model no sane training makes), the double scan is used instead.
  double bound = fast ? float_bound(*fast, x) : 0.0;
  if (fast && fast->fits(m) && m.n_items() > 0 && bound < 1e20) {
    Eigen::Map<const Eigen::VectorXf> xv(x.data(), m.rank());
    thread_local Eigen::VectorXf dots;
    dots.noalias() = item_table(m) * xv;
    return pick_from_float(m, x, base, excluded, n, *fast, dots.data(), bound);
  }
  const auto& known = m.item_count();
  detail::scan_items(m.n_items(), excluded, best, 0.0,
             [&](index_t i) { return known[i] == 0 ? -std::numeric_limits<double>::infinity() : base + bias[i] + dot_double(x, m, i); },
             [](index_t, double) {});
  return std::move(best).sorted(m);
}

}  // namespace recflow
