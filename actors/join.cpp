#include "recflow/actors/join.hpp"

namespace recflow {

void block_index::reset(std::uint32_t blocks) {
  for (std::size_t b = 0; b < distinct_.size(); ++b)
    for (auto s : distinct_[b])
      row_of_[b][s] = id_map::npos;
  entries_.clear();
  distinct_.resize(blocks);
  local_.resize(blocks);
  slots_.resize(blocks);
  row_of_.resize(blocks);
  for (std::uint32_t b = 0; b < blocks; ++b) {
    distinct_[b].clear();
    local_[b].clear();
    slots_[b].clear();
  }
}

void block_index::add(std::uint32_t slot, std::uint32_t block) {
  auto& rows = row_of_[block];
  if (slot >= rows.size())
    rows.resize(std::size_t(slot) + 1 + rows.size() / 2, id_map::npos);
  if (rows[slot] == id_map::npos) {
    rows[slot] = static_cast<std::uint32_t>(distinct_[block].size());
    distinct_[block].push_back(slot);
  }
  entries_.push_back({block, static_cast<std::uint32_t>(local_[block].size()), slot, 0});
  local_[block].push_back(rows[slot]);
  slots_[block].push_back(slot);
}

void block_index::resolve(const std::vector<std::vector<std::uint32_t>>& other_local) {
  for (auto& e : entries_)
    e.row = other_local[e.block][e.pos];
}

}  // namespace recflow
