/// Partitioners: small value types that map an external key to one of N partitions.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "recflow/model/random.hpp"

namespace recflow {

/// A partitioner maps any external id to a partition in [0, partitions()).
template <class P>
concept key_partitioner = std::copy_constructible<P> && requires(const P& p, std::int64_t key) {
  { p(key) } -> std::convertible_to<std::size_t>;
  { p.partitions() } -> std::convertible_to<std::size_t>;
  { p.name() } -> std::convertible_to<std::string>;
};

/// Hash partitioning (splitmix64 finaliser of the key, salted): spreads consecutive or
/// clustered ids evenly. The default for both edges.
struct hash_partitioner {
  std::size_t n = 1;          ///< number of partitions (must be positive)
  std::uint64_t salt = 0;     ///< different salts give independent assignments
  std::size_t operator()(std::int64_t key) const noexcept {
    auto x = splitmix64_hash(static_cast<std::uint64_t>(key) ^ salt);
    return n <= 1 ? 0 : static_cast<std::size_t>(x % n);
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "hash"; }
};

/// Modulo partitioning (key mod n, non-negative): predictable, handy in tests; skews when
/// ids share a stride with n.
struct modulo_partitioner {
  std::size_t n = 1;
  std::size_t operator()(std::int64_t key) const noexcept {
    if (n <= 1)
      return 0;
    auto m = key % static_cast<std::int64_t>(n);
    return static_cast<std::size_t>(m < 0 ? m + static_cast<std::int64_t>(n) : m);
  }
  std::size_t partitions() const noexcept { return n; }
  std::string name() const { return "modulo"; }
};

/// Any key_partitioner behind one value type, as a graph edge stores it. Copies share
/// the (immutable) strategy. A default-constructed partitioner is empty: `valid()` is
/// false and a graph holding one fails validation.
class partitioner {
 public:
  partitioner() = default;
  // The "not a partitioner" test comes first, so that checking key_partitioner (which
  // asks whether P is copyable) never recurses into this constructor (clang would).
  template <class P>
    requires(!std::same_as<std::remove_cvref_t<P>, partitioner>) && key_partitioner<P>
  partitioner(P p) : impl_(std::make_shared<model<P>>(std::move(p))) {}

  std::size_t operator()(std::int64_t key) const { return (*impl_)(key); }
  std::size_t partitions() const { return impl_ ? impl_->partitions() : 0; }
  std::string name() const { return impl_ ? impl_->name() : "none"; }
  bool valid() const noexcept { return impl_ != nullptr; }

 private:
  struct concept_t {
    virtual ~concept_t() = default;
    virtual std::size_t operator()(std::int64_t key) const = 0;
    virtual std::size_t partitions() const = 0;
    virtual std::string name() const = 0;
  };
  template <class P>
  struct model final : concept_t {
    explicit model(P p) : p_(std::move(p)) {}
    std::size_t operator()(std::int64_t key) const override { return p_(key); }
    std::size_t partitions() const override { return p_.partitions(); }
    std::string name() const override { return p_.name(); }
    P p_;
  };
  std::shared_ptr<const concept_t> impl_;
};

/// Parses "hash" or "modulo" into a partitioner over `n` partitions; empty if unknown.
partitioner make_partitioner(const std::string& strategy, std::size_t n, std::uint64_t salt = 0);

}  // namespace recflow
