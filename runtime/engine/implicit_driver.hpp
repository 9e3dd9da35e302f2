/// The driving loop streaming implicit ALS runs on the actor graph, in one process
/// (implicit_graph.hpp) and across nodes (implicit_cluster.hpp): per batch, the partition
/// step, every owner's report, and each pass's user then item solve against the other
/// side's Gram matrix summed from its owners' reports. How events and solves reach the
/// owners, and what a lost owner or a rejected frame means, is the engine's (hooks).
/// Internal to runtime/engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <caf/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/implicit_owner.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/exact_gram.hpp"

namespace recflow {

class implicit_driver {
 public:
  struct hooks {
    /// The events of batch `batch` whose key is shard `shard`'s of side `s`, in batch order.
    std::function<void(side s, std::uint32_t shard, std::uint64_t batch,
                       std::vector<stamped_event>&& events)>
      send_events;
    /// Solve step `pass` of batch `batch` for every owner of side `s`; `other` is the
    /// other side's Gram matrix.
    std::function<void(side s, std::uint64_t batch, std::uint32_t pass, const exact_gram& other)>
      send_solve;
    /// What an owner's or a node's end means (e.g. "lost node HOST:PORT at batch 3").
    std::function<error(const caf::down_msg&, std::uint64_t batch)> lost;
    /// What no report for the stall timeout means.
    std::function<error(std::uint64_t batch)> stalled;
    /// What a frame an owner rejected means (across processes only).
    std::function<error(const frame_rejected&, std::uint64_t batch)> rejected;
  };

  implicit_driver(caf::scoped_actor& self, int rank, int passes, std::size_t shards,
                  partitioner by_user, partitioner by_item, std::chrono::milliseconds stall,
                  hooks h);

  /// Each side's Gram matrix starts as the sum of its shards' (seeded) ones.
  void start(const exact_gram& users, const exact_gram& items) {
    user_gram_ = users;
    item_gram_ = items;
  }
  /// One batch (1-based number `batch`), events stamped and checked. After a failure,
  /// every later step fails with the same error.
  result<void> step(std::span<const stamped_event> events, std::uint64_t batch);
  const std::optional<error>& failed() const noexcept { return failed_; }

 private:
  result<void> await(std::uint64_t batch, bool user_side, bool item_side);

  caf::scoped_actor& self_;
  int rank_, passes_;
  std::size_t shards_;
  partitioner by_user_, by_item_;
  std::chrono::milliseconds stall_;
  hooks hooks_;
  exact_gram user_gram_, item_gram_;  // each side's, as its owners last reported
  std::optional<error> failed_;
};

}  // namespace recflow
