/// The coordinator's tests' rig: a round_driver that plays the source, the partition step
/// and the owners in the test's own thread (fake_driver), and a coordinator driving it (rig).
#pragma once

#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <limits>
#include <variant>

#include "recflow/actors/factor_owner.hpp"
#include "recflow/engine/coordinator.hpp"
#include "engine_test_util.hpp"

namespace recflow::test::coordinator_rig {


constexpr std::size_t partitions = 2;
constexpr int rank = 3;

/// `n` batches of `size` ratings over 7 users and 5 items.
std::vector<rating_batch> small_batches(std::size_t n, std::size_t size = 4) {
  std::vector<rating_batch> out(n);
  std::int64_t k = 0;
  for (auto& b : out)
    for (std::size_t r = 0; r < size; ++r, ++k)
      b.ratings.push_back({k % 7, k % 5, float(1 + k % 5), k});
  return out;
}

struct end_of_source {};

/// The actors' side of the rounds, in this thread: every pull and every batch sent queues
/// the answers the source, the partition step and the owners would send, in order.
class fake_driver final : public round_driver {
 public:
  using event = std::variant<rating_batch, end_of_source, error, partition_done, owner_done,
                             shard_parts, shard_view>;

  coordinator* core = nullptr;
  bool views = false;            ///< owners hold and send views, as in one process
  std::uint64_t owner_base = 0;  ///< owners count batches from here (fresh after a rewind)
  std::optional<error> source_error_after;  ///< the source fails instead of ending
  std::optional<result<error_metrics>> in_place;  ///< what evaluate_in_place answers
  /// Called on every batch sent, after its answers are queued (to add a bad one).
  std::function<void(const batch_stamp&, std::deque<event>&)> on_send;

  std::vector<batch_stamp> sent;
  std::size_t in_place_calls = 0, releases = 0;
  bool read_early = false;  ///< evaluate_in_place calls read() as the local engine does
  bool in_eval = false;
  std::size_t early_releases = 0;  ///< releases from read(), before the sum
  std::vector<std::pair<stream_point, bool>> checkpoints;  ///< with first_time

  explicit fake_driver(std::shared_ptr<rating_source> src) : source_(std::move(src)) {
    for (std::uint32_t s = 0; s < partitions; ++s) {
      users_.emplace_back(side::user, rank, 42, 0.1);
      items_.emplace_back(side::item, rank, 42, 0.1);
    }
  }

  void pull() override {
    auto b = source_->next();
    if (!b)
      events_.push_back(b.err());
    else if (*b)
      events_.push_back(std::move(**b));
    else if (source_error_after)
      events_.push_back(*source_error_after);
    else
      events_.push_back(end_of_source{});
  }

  void send(const batch_stamp& st, rating_batch b) override {
    sent.push_back(st);
    for (std::size_t r = 0; r < b.size(); ++r) {
      const auto& e = b.ratings[r];
      users_[std::size_t(e.user) % partitions].touch(e.user, st.offset + r);
      items_[std::size_t(e.item) % partitions].touch(e.item, st.offset + r);
    }
    events_.push_back(partition_done{st.batch, {}, {}});
    auto applied = st.batch + 1 - owner_base;
    for (auto which : {side::user, side::item})
      for (std::uint32_t s = 0; s < partitions; ++s) {
        events_.push_back(owner_done{st.batch, which, s, {}, 0.001});
        const auto& store = (which == side::user ? users_ : items_)[s];
        if (st.snapshot && views)
          events_.push_back(shard_view{applied, which, s, &store});
        else if (st.snapshot)
          events_.push_back(store.export_parts(applied, s));
      }
    if (on_send)
      on_send(st, events_);
  }

  void wait() override {
    if (events_.empty()) {
      core->fail(error{errc::io, "no progress: nothing to receive"});
      return;
    }
    auto e = std::move(events_.front());
    events_.pop_front();
    std::visit([&](auto& x) { deliver(x); }, e);
  }

  std::optional<result<error_metrics>> evaluate_in_place(
    const batch_stamp&, const std::vector<const shard_store*>& items,
    const std::function<void()>& read) override {
    ++in_place_calls;
    for (const auto* store : items)
      REQUIRE(store != nullptr);
    in_eval = true;
    if (in_place && read_early)
      read();
    in_eval = false;
    return in_place;
  }
  void release() override {
    ++releases;
    early_releases += in_eval;
  }
  void checkpoint(const stream_point& at, factor_model, bool first_time) override {
    checkpoints.emplace_back(at, first_time);
  }

 private:
  void deliver(rating_batch& b) { core->on_pulled(std::move(b)); }
  void deliver(end_of_source&) { core->on_end(); }
  void deliver(error& e) { core->on_source_failed(e); }
  void deliver(partition_done& d) { core->on_routed(d); }
  void deliver(owner_done& d) { core->on_owner_done(d); }
  void deliver(shard_parts& p) { core->on_parts(std::move(p)); }
  void deliver(shard_view& v) { core->on_view(v); }

  std::shared_ptr<rating_source> source_;
  std::vector<shard_store> users_, items_;
  std::deque<event> events_;
};

/// A graph of `batches` (positions p1, p2, ...) over 2 partitions at rank 3.
streaming_graph small_graph(std::shared_ptr<rating_source> src) {
  stream_params p;
  p.rank = rank;
  auto g = make_streaming_graph(std::move(src), p, partitions, {1.0, 5.0});
  REQUIRE(validate(g));
  return g;
}

/// A driver and a coordinator over it.
struct rig {
  std::shared_ptr<recording_source> source;
  fake_driver driver;
  coordinator core;

  explicit rig(std::size_t batches, coordinator_options o = {},
               const std::function<void(streaming_graph&)>& adjust = {})
      : source(std::make_shared<recording_source>(small_batches(batches))),
        driver(source),
        core(make_graph(source, adjust), o, driver) {
    driver.core = &core;
  }

  static streaming_graph make_graph(std::shared_ptr<rating_source> src,
                                    const std::function<void(streaming_graph&)>& adjust) {
    auto g = small_graph(std::move(src));
    if (adjust)
      adjust(g);
    return g;
  }
};

constexpr std::size_t all = std::numeric_limits<std::size_t>::max();

}  // namespace recflow::test::coordinator_rig
