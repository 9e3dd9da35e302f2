/// Maps arbitrary 64-bit external ids to dense indices 0..n-1, in order of first sight.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "recflow/model/random.hpp"

namespace recflow {

/// An open-addressing hash map from external id to dense index, plus the reverse table.
/// Lookups cost one or two cache misses; inserting n ids allocates O(n) memory.
class id_map {
 public:
  static constexpr std::uint32_t npos = 0xffffffffu;

  id_map() = default;

  /// Index of `id`, inserting it with the next free index if it is new.
  std::uint32_t insert(std::int64_t id);
  /// Index of `id`, or `npos` if it was never inserted.
  std::uint32_t find(std::int64_t id) const noexcept;
  /// Index of `id`, or nothing.
  std::optional<std::uint32_t> lookup(std::int64_t id) const noexcept {
    auto i = find(id);
    return i == npos ? std::nullopt : std::optional<std::uint32_t>{i};
  }
  bool contains(std::int64_t id) const noexcept { return find(id) != npos; }
  /// External id of dense index `index` (must be < size()).
  std::int64_t external(std::uint32_t index) const noexcept { return ids_[index]; }
  const std::vector<std::int64_t>& externals() const noexcept { return ids_; }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(ids_.size()); }
  bool empty() const noexcept { return ids_.empty(); }
  void reserve(std::size_t n);
  void clear();

  /// Builds a map whose dense index i is `ids[i]`; fails (returns false) on duplicates.
  static bool from_externals(const std::vector<std::int64_t>& ids, id_map& out);

  friend bool operator==(const id_map& a, const id_map& b) { return a.ids_ == b.ids_; }

 private:
  void grow();
  static std::uint64_t hash(std::int64_t id) noexcept {
    return splitmix64_hash(static_cast<std::uint64_t>(id));
  }

  std::vector<std::int64_t> ids_;      // dense index -> external id
  std::vector<std::uint32_t> slots_;   // hash slot -> dense index, npos when empty
  std::uint64_t mask_ = 0;
};

}  // namespace recflow
