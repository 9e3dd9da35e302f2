/// The users who posted ratings to a serving process (POST /ratings), by external id: an
/// immutable value each snapshot shares, which a post replaces by a new value. The ids are
/// spread over `shard_count` maps, held 64 to a leaf, 64 leaves in all; a new value shares
/// every leaf and map with the old one except those it changes, which it copies on their
/// first change. A post of one user thus copies two arrays of 64 pointers and about
/// size() / 4096 entries, not all of them (a copy of the whole map per post made a flood of
/// new users quadratic: 100,000 posts, 5 * 10^9 entries copied).
///
///   auto next = std::make_shared<posted_users>(*current);  // shares every shard
///   next->set(42, std::make_shared<const posted_user>(...)); // copies shard of 42 once
///   if (const auto* p = next->find(42)) use(p->ratings);
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "recflow/model/fold_in.hpp"

namespace recflow::serve {

/// A user who arrived through POST /ratings while unknown to the model: everything they
/// posted and their fold-in, solved against the snapshot of version `solved_version`.
struct posted_user {
  std::vector<item_rating> ratings;
  folded_user folded;
  std::uint64_t solved_version = 0;
  bool fold = true;  ///< false: a user the model knows (their posts are only excluded from top-N)
  std::uint64_t last_post = 0;  ///< sequence number of the user's latest post (for the LRU bound)
};

class posted_users {
 public:
  static constexpr std::size_t fan_out = 64;
  static constexpr std::size_t shard_count = fan_out * fan_out;
  using entry = std::shared_ptr<const posted_user>;

  posted_users();
  /// Shares every shard of `other`; this copy's changes copy a shard first.
  posted_users(const posted_users& other);
  posted_users& operator=(const posted_users&) = delete;

  /// The user's entry, or null.
  const posted_user* find(std::int64_t user) const;
  std::size_t count(std::int64_t user) const { return find(user) ? 1 : 0; }
  std::size_t size() const noexcept { return size_; }
  /// Users with fold set (unknown to the model when they first posted).
  std::size_t folded() const noexcept { return folded_; }

  /// Adds or replaces the user's entry; returns the previous one (null if none).
  entry set(std::int64_t user, entry e);
  /// Removes the user's entry, if any.
  void erase(std::int64_t user);

 private:
  using shard = std::map<std::int64_t, entry>;
  using leaf = std::array<std::shared_ptr<shard>, fan_out>;
  static std::size_t shard_of(std::int64_t user) noexcept;
  /// The one leaf of empty shards every fresh value starts from (shared, never changed).
  static const std::shared_ptr<leaf>& empty_leaf();
  const shard& at(std::size_t k) const { return *(*leaves_[k / fan_out])[k % fan_out]; }
  /// Shard k, copied first (with its leaf) if this value still shares it.
  shard& own(std::size_t k);

  std::array<std::shared_ptr<leaf>, fan_out> leaves_;
  std::bitset<fan_out> owned_leaves_;   ///< leaves this value copied (shared with no other)
  std::bitset<shard_count> owned_;      ///< shards this value copied (shared with no other)
  std::size_t size_ = 0;
  std::size_t folded_ = 0;
};

}  // namespace recflow::serve
