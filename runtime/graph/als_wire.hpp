/// The wire format of batch ALS across processes: one block's layout with its initial
/// rows (driver -> node, once) and a half-iteration's rows (block -> block), each one
/// contiguous byte blob with the header of graph/wire.hpp. Pure functions over bytes, no CAF.
///
///   auto blob = wire::encode_als_layout(layout, initial);    // driver
///   auto init = wire::decode_als_layout(blob);               // node: result<>, validated
///   auto rows = wire::decode_als_rows(frame);                // block: structure checked
///   if (auto ok = wire::check_als_rows(init->layout, init->rank, *rows); !ok) reject(...);
///
/// Layout (native byte order, after the 16-byte header):
///   als_layout  u8 side | u32 block, other_blocks, rank | f64 mu | u32 n, n_gathered
///               | u64 nnz, n_out | n x u32 entity | (other_blocks+1) x u32 in_offsets
///               | (n+1) x u64 rating offsets | nnz x u32 col | nnz x f32 value
///               | other_blocks x u32 out count | n_out x u32 out row
///               | n x f64 bias | n x rank x f32 factors
///   als_rows    u32 iteration | u8 side | u32 from, to, rank, n, g | n x f64 bias
///               | n x rank x f32 factors | g x u64 gram | f64 regularisation
///               (g: 0 for explicit ALS, rank (rank + 1) for implicit ALS)
/// The decoders check the header, that the payload is exactly what the counts imply, and
/// everything a block indexes with: entities and out rows strictly increasing and in
/// range, offsets monotone from 0 to their totals, columns below the gathered rows,
/// ratings, mu and initial rows finite. check_als_rows then checks rows against the
/// receiving block's layout (sender, side, count). Violations are errc::corrupt errors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/graph/als_layout.hpp"
#include "recflow/graph/wire.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow::wire {

/// What a node needs to run one block: its layout, the training mean and its rows.
struct als_block_init {
  als_block_layout layout;
  std::uint32_t other_blocks = 0;  ///< block count of the other side
  std::uint32_t rank = 0;
  double mu = 0.0;
  std::vector<double> bias;     ///< one per entity, layout order
  std::vector<float> factors;   ///< rank per entity
};

/// `layout` with the rows of its entities from `initial` (compact indices, as
/// als_initial_model builds it).
bytes encode_als_layout(const als_block_layout& layout, const factor_model& initial);
result<als_block_init> decode_als_layout(std::span<const char> blob);

/// `rows` of rank `rank` (rows.factors holds rank floats per bias).
bytes encode_als_rows(const als_rows& rows, std::uint32_t rank);
result<als_rows> decode_als_rows(std::span<const char> blob);
/// Whether `rows` fits the block `receiver` of rank `rank`: addressed to it, from the
/// other side, from a block that sends it rows (in implicit ALS every block does), with
/// exactly the rows it expects, and a Gram matrix exactly when `implicit`.
result<void> check_als_rows(const als_block_layout& receiver, std::uint32_t rank,
                            const als_rows& rows, bool implicit = false);

}  // namespace recflow::wire
