/// Maps arbitrary 64-bit external ids to dense indices 0..n-1, in order of first sight.
#pragma once

#include <atomic>
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
  /// A copy holds the same ids under a new tag (see tag()).
  id_map(const id_map& o) : ids_(o.ids_), slots_(o.slots_), mask_(o.mask_) {}
  /// The map moved to keeps its tag; the one moved from is left empty under a new one.
  id_map(id_map&& o) noexcept
    : ids_(std::move(o.ids_)), slots_(std::move(o.slots_)), mask_(o.mask_), tag_(o.tag_) {
    o.forget();
  }
  id_map& operator=(const id_map& o) {
    if (this != &o) {
      ids_ = o.ids_;
      slots_ = o.slots_;
      mask_ = o.mask_;
      tag_ = next_tag();
    }
    return *this;
  }
  id_map& operator=(id_map&& o) noexcept {
    if (this != &o) {
      ids_ = std::move(o.ids_);
      slots_ = std::move(o.slots_);
      mask_ = o.mask_;
      tag_ = o.tag_;
      o.forget();
    }
    return *this;
  }
  ~id_map() = default;

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
  /// Empties the map (under a new tag).
  void clear();
  /// Names this map's assignment of indices: while two maps (or one map at two times)
  /// show the same tag, every index both hold denotes the same external id. Inserting
  /// only appends indices, so it keeps the tag; a copy, an assignment and clear() take a
  /// new one. Caches keyed by index (streaming_trainer's translations) check it once per
  /// batch instead of checking each index's external id.
  std::uint64_t tag() const noexcept { return tag_; }

  /// Builds a map whose dense index i is `ids[i]`; fails (returns false) on duplicates.
  static bool from_externals(const std::vector<std::int64_t>& ids, id_map& out);

  friend bool operator==(const id_map& a, const id_map& b) { return a.ids_ == b.ids_; }

 private:
  void grow();
  static std::uint64_t next_tag() noexcept {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void forget() noexcept {
    ids_.clear();
    slots_.clear();
    mask_ = 0;
    tag_ = next_tag();
  }
  static std::uint64_t hash(std::int64_t id) noexcept {
    return splitmix64_hash(static_cast<std::uint64_t>(id));
  }

  std::vector<std::int64_t> ids_;      // dense index -> external id
  std::vector<std::uint32_t> slots_;   // hash slot -> dense index, npos when empty
  std::uint64_t mask_ = 0;
  std::uint64_t tag_ = next_tag();
};

}  // namespace recflow
