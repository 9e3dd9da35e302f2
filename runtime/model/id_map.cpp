#include "recflow/model/id_map.hpp"

namespace recflow {

std::uint32_t id_map::find(std::int64_t id) const noexcept {
  if (slots_.empty())
    return npos;
  for (auto s = hash(id) & mask_;; s = (s + 1) & mask_) {
    auto idx = slots_[s];
    if (idx == npos || ids_[idx] == id)
      return idx;
  }
}

std::uint32_t id_map::insert(std::int64_t id) {
  if ((ids_.size() + 1) * 2 > slots_.size())
    grow();
  for (auto s = hash(id) & mask_;; s = (s + 1) & mask_) {
    auto idx = slots_[s];
    if (idx == npos) {
      idx = static_cast<std::uint32_t>(ids_.size());
      slots_[s] = idx;
      ids_.push_back(id);
      return idx;
    }
    if (ids_[idx] == id)
      return idx;
  }
}

void id_map::reserve(std::size_t n) {
  ids_.reserve(n);
  std::size_t want = 16;
  while (want < n * 2)
    want *= 2;
  if (want > slots_.size()) {
    slots_.assign(want, npos);
    mask_ = want - 1;
    for (std::uint32_t i = 0; i < ids_.size(); ++i) {
      auto s = hash(ids_[i]) & mask_;
      while (slots_[s] != npos)
        s = (s + 1) & mask_;
      slots_[s] = i;
    }
  }
}

void id_map::grow() {
  reserve(slots_.empty() ? 8 : slots_.size());
}

void id_map::clear() { forget(); }

bool id_map::from_externals(const std::vector<std::int64_t>& ids, id_map& out) {
  out.clear();
  out.reserve(ids.size());
  for (auto id : ids) {
    auto before = out.size();
    out.insert(id);
    if (out.size() == before)
      return false;  // a duplicate
  }
  return true;
}

}  // namespace recflow
