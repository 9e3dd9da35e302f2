#include "recflow/serve/posted_users.hpp"

namespace recflow::serve {

const std::shared_ptr<posted_users::leaf>& posted_users::empty_leaf() {
  static const auto empty = [] {
    auto l = std::make_shared<leaf>();
    l->fill(std::make_shared<shard>());
    return l;
  }();
  return empty;
}

posted_users::posted_users() { leaves_.fill(empty_leaf()); }

posted_users::posted_users(const posted_users& other)
    : leaves_(other.leaves_), size_(other.size_), folded_(other.folded_) {}

std::size_t posted_users::shard_of(std::int64_t user) noexcept {
  // Fibonacci hashing: consecutive ids (the usual flood) spread over every shard.
  return static_cast<std::size_t>((static_cast<std::uint64_t>(user) * 0x9E3779B97F4A7C15ull) >> 52);
}

posted_users::shard& posted_users::own(std::size_t k) {
  const auto hi = k / fan_out, lo = k % fan_out;
  if (!owned_leaves_[hi]) {
    leaves_[hi] = std::make_shared<leaf>(*leaves_[hi]);
    owned_leaves_[hi] = true;
  }
  auto& s = (*leaves_[hi])[lo];
  if (!owned_[k]) {
    s = std::make_shared<shard>(*s);
    owned_[k] = true;
  }
  return *s;
}

const posted_user* posted_users::find(std::int64_t user) const {
  const auto& s = at(shard_of(user));
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
  if (at(k).count(user) == 0)
    return;
  auto& s = own(k);
  auto it = s.find(user);
  folded_ -= it->second->fold;
  s.erase(it);
  --size_;
}

}  // namespace recflow::serve
