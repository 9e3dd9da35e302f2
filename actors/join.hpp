/// The join's bookkeeping: the ratings of a batch grouped into blocks by the shard on the
/// other side, in batch order, with each block's distinct keys listed once. A user owner
/// and an item owner build the same block (s, t) independently (both keep batch order),
/// so rows and errors can travel as plain arrays indexed by position in the block.
#pragma once

#include <cstdint>
#include <vector>

#include "recflow/model/id_map.hpp"

namespace recflow {

/// Blocks of one batch on one side.
class block_index {
 public:
  /// One rating (batch order) as an owner's hot loop reads it: its block, its position
  /// in the block, its key's slot, and (after resolve) its row in the other side's
  /// message for the block. One array, so a pass reads one stream per rating.
  struct entry {
    std::uint32_t block = 0, pos = 0, slot = 0, row = 0;
  };

  /// Starts a batch with `blocks` blocks (the other side's shard count).
  void reset(std::uint32_t blocks);
  /// Appends the next rating (batch order): its key's slot and its block.
  void add(std::uint32_t slot, std::uint32_t block);
  /// Orders entries() by slot once every rating is added, stably: each key's ratings
  /// follow one another in batch order (the order its sums must follow), so a pass sums
  /// a key in cache and steps it at its last rating. `values`, one per rating in batch
  /// order, are put in the same order. `slots`: more than the largest slot.
  void group(std::uint32_t slots, std::vector<double>* values = nullptr);

  std::uint32_t blocks() const noexcept { return static_cast<std::uint32_t>(distinct_.size()); }
  std::size_t ratings() const noexcept { return entries_.size(); }
  /// Block and position within the block of the k-th rating.
  std::uint32_t block_of(std::size_t k) const noexcept { return entries_[k].block; }
  std::uint32_t pos_of(std::size_t k) const noexcept { return entries_[k].pos; }
  /// Every rating: batch order, or by slot after group().
  const std::vector<entry>& entries() const noexcept { return entries_; }
  /// Sets each rating's `row` from the other side's pass-0 `local` of its block (row of
  /// the k-th rating of block b: other_local[b][k]); call once all blocks have arrived.
  void resolve(const std::vector<std::vector<std::uint32_t>>& other_local);
  /// Slots of block b's distinct keys, in order of first appearance (the rows to ship).
  const std::vector<std::uint32_t>& distinct(std::uint32_t b) const noexcept { return distinct_[b]; }
  /// For each rating of block b (block order), its row in distinct(b).
  const std::vector<std::uint32_t>& local(std::uint32_t b) const noexcept { return local_[b]; }
  /// For each rating of block b (block order), its key's slot.
  const std::vector<std::uint32_t>& slots(std::uint32_t b) const noexcept { return slots_[b]; }
  std::size_t size_of(std::uint32_t b) const noexcept { return local_[b].size(); }

 private:
  std::vector<entry> entries_;
  std::vector<std::vector<std::uint32_t>> distinct_, local_, slots_;
  std::vector<std::vector<std::uint32_t>> row_of_;  ///< per block: slot -> row, npos if absent
  // group()'s scratch, kept across batches.
  std::vector<std::uint32_t> at_;
  std::vector<entry> grouped_;
  std::vector<double> values_;
};

}  // namespace recflow
