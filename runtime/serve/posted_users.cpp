#include "recflow/serve/posted_users.hpp"

namespace recflow::serve {

namespace {
/// The one empty shard every fresh value starts from (shared, never changed).
const std::shared_ptr<std::map<std::int64_t, posted_users::entry>>& empty_shard() {
  static const auto empty = std::make_shared<std::map<std::int64_t, posted_users::entry>>();
  return empty;
}
}  // namespace

posted_users::posted_users() { shards_.fill(empty_shard()); }

posted_users::posted_users(const posted_users& other)
    : shards_(other.shards_), size_(other.size_), folded_(other.folded_) {}

std::size_t posted_users::shard_of(std::int64_t user) noexcept {
  // Fibonacci hashing: consecutive ids (the usual flood) spread over every shard.
  return static_cast<std::size_t>((static_cast<std::uint64_t>(user) * 0x9E3779B97F4A7C15ull) >> 56);
}

posted_users::shard& posted_users::own(std::size_t k) {
  if (!owned_[k]) {
    shards_[k] = std::make_shared<shard>(*shards_[k]);
    owned_[k] = true;
  }
  return *shards_[k];
}

const posted_user* posted_users::find(std::int64_t user) const {
  const auto& s = *shards_[shard_of(user)];
  auto it = s.find(user);
  return it == s.end() ? nullptr : it->second.get();
}

posted_users::entry posted_users::set(std::int64_t user, entry e) {
  auto& s = own(shard_of(user));
  folded_ += e->fold;
  auto [it, added] = s.try_emplace(user, e);
  if (added) {
    ++size_;
    return nullptr;
  }
  folded_ -= it->second->fold;
  std::swap(it->second, e);
  return e;
}

void posted_users::erase(std::int64_t user) {
  const auto k = shard_of(user);
  if (shards_[k]->count(user) == 0)
    return;
  auto& s = own(k);
  auto it = s.find(user);
  folded_ -= it->second->fold;
  s.erase(it);
  --size_;
}

}  // namespace recflow::serve
