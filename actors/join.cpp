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

void block_index::group(std::uint32_t slots, std::vector<double>* values) {
  // A counting sort by slot: stable, so each key's ratings keep their batch order.
  const auto n = entries_.size();
  at_.assign(std::size_t(slots) + 1, 0);
  for (const auto& e : entries_)
    ++at_[e.slot + 1];
  for (std::uint32_t s = 0; s < slots; ++s)
    at_[s + 1] += at_[s];
  grouped_.resize(n);
  if (values)
    values_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    auto to = at_[entries_[k].slot]++;
    grouped_[to] = entries_[k];
    if (values)
      values_[to] = (*values)[k];
  }
  entries_.swap(grouped_);
  if (values)
    values->swap(values_);
}

void block_index::resolve(const std::vector<std::vector<std::uint32_t>>& other_local) {
  for (auto& e : entries_)
    e.row = other_local[e.block][e.pos];
}

}  // namespace recflow
