/// The plain data of batch ALS on blocks: where one block's entities and ratings live,
/// what it exchanges with the other side's blocks, and the rows it ships. No CAF: the
/// local graph (actors/als_block.hpp) shares these by pointer, the cluster ships them as
/// byte blobs (graph/als_wire.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/model/als_blocks.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// Block -> block, once per half-iteration: the sender's rows that the receiver needs,
/// in the order the receiver's in-block expects (increasing index on the sender). In
/// implicit ALS every block sends every block of the other side one, rows or none, with
/// its Gram matrix.
struct als_rows {
  std::uint32_t iteration = 0;  ///< 1-based sweep
  recflow::side side = recflow::side::user;  ///< side of the rows
  std::uint32_t from = 0;       ///< sending block
  std::uint32_t to = 0;         ///< receiving block
  std::vector<double> bias{};     ///< one per row
  std::vector<float> factors{};   ///< rank floats per row
  /// Implicit ALS: the exact Gram matrix of all the sender's rows (exact_gram::words),
  /// which every block of the other side needs whole; empty for explicit ALS.
  std::vector<std::uint64_t> gram{};
  /// Implicit ALS, user rows: the sender's share of the objective's user regularisation
  /// (sum of reg_u |x_u|^2 over its users); 0 otherwise.
  double regularisation = 0.0;
};

/// Where one block's entities and ratings live, and what it exchanges with the other
/// side's blocks.
struct als_block_layout {
  side owner = side::user;
  std::uint32_t block = 0;
  /// Compact indices (as in rating_blocks) of the entities owned, increasing; the
  /// position in this list is the entity's local index.
  std::vector<index_t> entities;
  /// Ratings by local entity, in train_als's order; `cols` index the gathered table.
  rating_csr ratings;
  /// Size other blocks + 1: rows [in_offsets[t], in_offsets[t+1]) of the gathered table
  /// come from the other side's block t (its out_rows for this block).
  std::vector<std::uint32_t> in_offsets;
  /// Per other-side block: the local indices of this block's entities it needs, increasing.
  std::vector<std::vector<std::uint32_t>> out_rows;

  /// Other-side blocks that send this block rows each half-iteration.
  std::uint32_t expected_messages() const noexcept;
  /// Rows this block sends per half-iteration (over all destinations).
  std::uint64_t rows_out() const noexcept;
};

}  // namespace recflow
