/// Dot products of a block of query vectors with every item row, in single precision:
/// the product behind scan_top_n_many (not an interface of the model: include it only
/// from runtime/model/*.cpp and the tests).
#pragma once

#include <cstddef>
#include <span>

namespace recflow::detail {

/// dots[q * stride + i] = x_q . P_i for every query q < `queries` (x: queries x rank,
/// row-major) and every item row i of `items` (items x rank, row-major, as a model stores
/// them); stride >= the number of items. Sums run in float, in an order that depends on
/// the CPU's vector width and may use fused multiply-adds: within (rank + 4) 2^-24
/// |x_q| |P_i| of the exact product, the bound scan_top_n's candidate cut allows for.
/// Runs AVX-512 or AVX2 code where the CPU has it, chosen at load time.
void score_block(std::span<const float> items, std::size_t rank, std::span<const float> x,
                 std::size_t queries, float* dots, std::size_t stride);

/// The first i in [from, n) with bias[i] + double(dots[i]) >= cut, or n: the skip of a
/// top-N scan over float scores, 16 items per step (-inf biases never qualify).
std::size_t first_at_least(const double* bias, const float* dots, std::size_t from,
                           std::size_t n, double cut);

}  // namespace recflow::detail
