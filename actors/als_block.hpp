/// Batch ALS on blocks: the users (or items) of one partition as a factor owner, with
/// Spark's in/out-block layout, so that each half-iteration ships every factor row at
/// most once to each block that needs it. The logic here needs no actor system.
///
/// For a user half (users solved against fixed items), item block t sends user block s
/// one message holding exactly the rows of t's items that some user of s rated (t's
/// out-block for s); s writes them into its gathered table at the segment reserved for
/// t (its in-block) and, once every expected message is in, solves each of its users
/// with als_solver over that user's ratings in the order train_als uses (the order of
/// the rating table), so the result equals train_als's bit for bit.
///
/// Implicit ALS runs on the same blocks: every block then sends every block of the other
/// side a message, rows or none, with the exact Gram matrix of all its rows
/// (exact_gram.hpp); the receiver sums them (in any order, to the same bits) into the
/// other side's Y^T Y and solves each entity with implicit_als_solver, so the result
/// equals train_implicit_als's bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "recflow/graph/als_layout.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"
#include "recflow/model/exact_gram.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// Every block of both sides.
struct als_block_plan {
  std::vector<als_block_layout> users, items;

  /// Lays out `blocks` over `partitions` blocks per side; `user_block[u]` and
  /// `item_block[i]` give the block of each compact user and item (each below
  /// `partitions`).
  static als_block_plan build(const rating_blocks& blocks,
                              std::span<const std::uint32_t> user_block,
                              std::span<const std::uint32_t> item_block, std::uint32_t partitions);
};

/// What the blocks solve: explicit ALS, or implicit ALS (every missing pair weighing 1).
using als_block_params = std::variant<als_params, implicit_params>;
inline bool is_implicit(const als_block_params& p) noexcept { return p.index() == 1; }
int rank_of(const als_block_params& p) noexcept;
int iterations_of(const als_block_params& p) noexcept;
/// The parameters' own checks; implicit ALS on blocks also needs missing_exponent 0.
result<void> validate(const als_block_params& p);

/// One block's factors and the other side's rows it has gathered; solves its entities.
class als_block_state {
 public:
  /// Block `block` of side `owner` of `plan` (shared, not copied: every block of a
  /// local graph reads its own layout from one plan), starting from the rows of
  /// `initial` (a model laid out as rating_blocks' compact indices, e.g.
  /// als_initial_model) for the block's entities.
  als_block_state(std::shared_ptr<const als_block_plan> plan, side owner, std::uint32_t block,
                  const als_block_params& p, const factor_model& initial);
  /// A block of its own (on a node, from graph/als_wire.hpp's decoded layout) with the
  /// training mean `mu` and its entities' initial rows (layout order, rank per entity;
  /// the sizes must match the layout and p.rank).
  als_block_state(std::shared_ptr<const als_block_layout> layout, const als_block_params& p,
                  double mu, std::span<const double> bias, std::span<const float> factors);

  const als_block_layout& layout() const noexcept { return *layout_; }
  bool implicit() const noexcept { return is_implicit(params_); }
  /// Messages this block waits for per half-iteration: the other-side blocks that send
  /// it rows, or (implicit ALS) every other-side block.
  std::uint32_t expected_messages() const noexcept;
  /// One message per other-side block that needs rows from this block (implicit ALS: one
  /// per other-side block, each with this block's Gram matrix).
  std::vector<als_rows> ship(std::uint32_t iteration) const;
  /// Stores an incoming message's rows; true once every expected message of its
  /// iteration has arrived (then call solve()).
  bool take(const als_rows& rows);
  /// take() for rows from another process: checks them against the layout (sender,
  /// side, count, rank) and the sweep in progress (the current sweep, or the next once
  /// the current one is complete; each sender once) first. An error says what is wrong
  /// and leaves the block unchanged.
  result<bool> accept(const als_rows& rows);
  /// Solves every entity of the block against the gathered rows.
  void solve();
  /// Squared training error of the block's ratings with its factors and the gathered
  /// rows (after an item half this is the block's share of the sweep's training error).
  /// Implicit ALS, item blocks after the item half: the block's share of the objective
  /// (implicit_objective): its items' regularisation, y^T (X^T X) y and the corrections on
  /// their events, and in block 0 the users' regularisation as the user blocks sent it.
  double squared_error() const;

  std::span<const double> bias() const noexcept { return bias_; }
  const factor_table& factors() const noexcept { return factors_; }
  /// Rows received (and messages) since the last reset_counters().
  std::uint64_t rows_received() const noexcept { return rows_received_; }
  std::uint64_t messages_received() const noexcept { return messages_received_; }
  void reset_counters() noexcept { rows_received_ = messages_received_ = 0; }

 private:
  std::shared_ptr<const void> keep_;  ///< the plan or the layout that layout_ points into
  const als_block_layout* layout_;
  std::vector<std::uint8_t> arrived_from_;  ///< per sender, this sweep (accept only)
  als_block_params params_;
  int rank_ = 0;
  double mu_ = 0.0;
  factor_table factors_;
  std::vector<double> bias_;
  factor_table gathered_;
  std::vector<double> gathered_bias_;
  std::variant<als_solver, implicit_als_solver> solver_;
  exact_gram gram_;                    ///< implicit: the other side's Gram matrix, summed
  double other_regularisation_ = 0.0;  ///< implicit: the user blocks' shares, summed
  std::uint32_t arrived_ = 0;
  std::uint32_t iteration_ = 0;
  std::uint64_t rows_received_ = 0, messages_received_ = 0;
};

/// Writes one block's biases and factors (`layout.entities` order, rank floats per
/// entity) into `m`, whose dense indices are the compact indices of the plan.
void write_back(const als_block_layout& layout, std::span<const double> bias,
                std::span<const float> factors, factor_model& m);

}  // namespace recflow
