#include "recflow/model/score_block.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "recflow/model/stream_kernel.hpp"

namespace recflow::detail {

namespace {

constexpr std::size_t panel_items = 16;  ///< items scored together: one AVX-512 vector
constexpr std::size_t query_group = 4;   ///< queries that share each panel load

/// 16 floats as one value: one AVX-512 register, two AVX2 ones or four SSE ones, whichever
/// the clone being compiled has (GCC's vector extension lowers it to the target).
using lane16 = float __attribute__((vector_size(panel_items * sizeof(float))));

/// Scores of queries q..q+G-1 against one panel (rank x 16 floats, item-minor), written to
/// `dots` for the panel's first `w` items. The G x 16 sums stay in vector registers.
template <std::size_t G>
inline void score_panel(const float* panel, std::size_t rank, const float* x, std::size_t q,
                        float* dots, std::size_t stride, std::size_t i0, std::size_t w) {
  lane16 acc[G] = {};
  for (std::size_t k = 0; k < rank; ++k) {
    lane16 p;
    std::memcpy(&p, panel + k * panel_items, sizeof p);
    for (std::size_t u = 0; u < G; ++u)
      acc[u] += x[(q + u) * rank + k] * p;
  }
  for (std::size_t u = 0; u < G; ++u) {
    float out[panel_items];
    std::memcpy(out, &acc[u], sizeof out);
    std::copy_n(out, w, dots + (q + u) * stride + i0);
  }
}

/// The whole block, panel by panel: each panel of 16 item rows is transposed once into
/// `panel` (rank x 16, zero past the last item) and read by every query of the block
/// while it sits in L1. Compiled for AVX-512, AVX2 and the baseline (picked at load).
RECFLOW_VECTOR_LOOP void score_all(const float* items, std::size_t n_items, std::size_t rank,
                                   const float* x, std::size_t queries, float* dots,
                                   std::size_t stride, float* panel) {
  for (std::size_t i0 = 0; i0 < n_items; i0 += panel_items) {
    const std::size_t w = std::min(panel_items, n_items - i0);
    for (std::size_t j = 0; j < panel_items; ++j) {
      if (j < w) {
        const float* row = items + (i0 + j) * rank;
        for (std::size_t k = 0; k < rank; ++k)
          panel[k * panel_items + j] = row[k];
      } else {
        for (std::size_t k = 0; k < rank; ++k)
          panel[k * panel_items + j] = 0.0f;
      }
    }
    std::size_t q = 0;
    for (; q + query_group <= queries; q += query_group)
      score_panel<query_group>(panel, rank, x, q, dots, stride, i0, w);
    for (; q < queries; ++q)
      score_panel<1>(panel, rank, x, q, dots, stride, i0, w);
  }
}

/// 8 doubles, 8 floats and 8 integers of a double's width, lowered to the clone's vectors
/// as lane16 is.
using lane8d = double __attribute__((vector_size(8 * sizeof(double))));
using lane8f = float __attribute__((vector_size(8 * sizeof(float))));
using bits8 = long long __attribute__((vector_size(8 * sizeof(long long))));

/// Steps over 16 items at a time while all score below the cut. The test is on the sign of
/// (score - cut) + 0.0 (the + 0.0 turns an exact tie's -0 into +0), so it compiles to
/// vector adds and ands: g++ 12 leaves a vector comparison of doubles scalar.
RECFLOW_VECTOR_LOOP std::size_t first_at_least_impl(const double* bias, const float* dots,
                                                     std::size_t i, std::size_t n, double cut) {
  lane8d cuts = {};
  cuts += cut;
  for (; i + 16 <= n; i += 16) {
    lane8d b0, b1;
    lane8f d0, d1;
    std::memcpy(&b0, bias + i, sizeof b0);
    std::memcpy(&b1, bias + i + 8, sizeof b1);
    std::memcpy(&d0, dots + i, sizeof d0);
    std::memcpy(&d1, dots + i + 8, sizeof d1);
    const lane8d e0 = (b0 + __builtin_convertvector(d0, lane8d) - cuts) + 0.0;
    const lane8d e1 = (b1 + __builtin_convertvector(d1, lane8d) - cuts) + 0.0;
    bits8 x0, x1;
    std::memcpy(&x0, &e0, sizeof x0);
    std::memcpy(&x1, &e1, sizeof x1);
    const bits8 both = x0 & x1;
    long long all = -1;  // its sign stays set while every item is below the cut
    for (int l = 0; l < 8; ++l)
      all &= both[l];
    if (all >= 0)
      break;  // one of these 16 may reach the cut: the exact test below finds it
  }
  for (; i < n; ++i)
    if (bias[i] + double(dots[i]) >= cut)
      return i;
  return n;
}

}  // namespace

std::size_t first_at_least(const double* bias, const float* dots, std::size_t from,
                           std::size_t n, double cut) {
  return first_at_least_impl(bias, dots, from, n, cut);
}

void score_block(std::span<const float> items, std::size_t rank, std::span<const float> x,
                 std::size_t queries, float* dots, std::size_t stride) {
  if (rank == 0 || queries == 0)
    return;
  thread_local std::vector<float> panel;
  panel.resize(rank * panel_items);
  score_all(items.data(), items.size() / rank, rank, x.data(), queries, dots, stride,
            panel.data());
}

}  // namespace recflow::detail
