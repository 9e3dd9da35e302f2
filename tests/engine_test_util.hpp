/// Helpers shared by the engine tests: replaying batches, reading batches off a source,
/// and comparing two models parameter by parameter.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <vector>

#include "recflow/engine/local_engine.hpp"
#include "recflow/engine/stream_job.hpp"
#include "recflow/graph/graph.hpp"
#include "recflow/graph/source.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/streaming.hpp"
#include "env_test_util.hpp"
#include "test_util.hpp"

namespace recflow::test {

/// Up to `max` batches of `src`, in order.
inline std::vector<rating_batch> take_batches(rating_source& src, std::size_t max) {
  std::vector<rating_batch> out;
  while (out.size() < max) {
    auto b = src.next();
    REQUIRE(b.has_value());
    if (!*b)
      break;
    out.push_back(std::move(**b));
  }
  return out;
}

/// Feeds event batches to the single-threaded reference through a growing id space.
class reference_runner {
 public:
  reference_runner(const stream_params& p, rating_scale scale) : trainer_(p, scale) {}
  reference_runner(const stream_params& p, factor_model seed) : trainer_(p, std::move(seed)) {}
  void apply(const rating_batch& b) {
    rs_.clear();
    for (const auto& e : b.ratings)
      rs_.push_back({users_.insert(e.user), items_.insert(e.item), e.value, e.timestamp});
    REQUIRE(trainer_.apply(rs_, users_, items_));
  }
  const factor_model& model() const { return trainer_.model(); }

 private:
  streaming_trainer trainer_;
  id_map users_, items_;
  std::vector<rating> rs_;
};

/// The first `n` batches of `size` ratings of MovieLens 100K's u.data.
inline std::vector<rating_batch> ml100k_batches(std::size_t n, std::size_t size = 1000) {
  auto src = file_source(data_dir() + "/ml-100k/u.data", {}, {.max_ratings = size});
  return take_batches(*src, n);
}

/// The streaming parameters of the multi-node tests: `rank`, 3 passes, seed 42.
inline stream_params cluster_test_params(int rank = 10) {
  stream_params p;
  p.rank = rank;
  p.passes = 3;
  p.seed = 42;
  return p;
}

/// A source that replays `batches` as they are.
inline std::shared_ptr<rating_source> replay(std::vector<rating_batch> batches) {
  auto at = std::make_shared<std::size_t>(0);
  auto all = std::make_shared<std::vector<rating_batch>>(std::move(batches));
  return source_from([at, all]() -> std::optional<rating_batch> {
    if (*at == all->size())
      return std::nullopt;
    return (*all)[(*at)++];
  });
}

/// `batches` streamed to their end through a local engine of `partitions` shards (2
/// workers, 3 batches in flight); the model after the last one.
inline factor_model local_model_after(const std::vector<rating_batch>& batches,
                                      const stream_params& p, std::size_t partitions,
                                      rating_scale scale) {
  auto g = make_streaming_graph(replay(batches), p, partitions, scale);
  auto engine = local_engine::make(g, {.workers = 2, .max_in_flight = 3});
  REQUIRE(engine);
  auto sum = (*engine)->run();
  REQUIRE(sum);
  CHECK(sum->batches == batches.size());
  CHECK(sum->end_of_stream);
  auto model = (*engine)->snapshot();
  REQUIRE(model);
  return std::move(*model);
}

/// "p<n>", the position recording_source gives its n-th batch (built without
/// `"p" + std::string`, where GCC 12 warns falsely: bug 105329).
inline std::string pos(std::size_t n) {
  std::string s(1, 'p');
  s += std::to_string(n);
  return s;
}

/// A replayable positioned source over fixed batches (positions p1, p2, ...; resumes after
/// any of them) that records what the engine acknowledged.
class recording_source final : public rating_source {
 public:
  explicit recording_source(std::vector<rating_batch> bs) : batches_(std::move(bs)) {}
  result<std::optional<rating_batch>> next() override {
    if (at_ == batches_.size())
      return std::optional<rating_batch>{};
    auto b = batches_[at_++];
    b.position = pos(at_);
    return std::optional<rating_batch>{std::move(b)};
  }
  result<void> resume_after(const std::string& position) override {
    at_ = std::stoul(position.substr(1));
    return {};
  }
  void applied(const std::string& position) override {
    std::lock_guard lock(m_);
    acked_.push_back(position);
  }
  std::vector<std::string> acked() const {
    std::lock_guard lock(m_);
    return acked_;
  }

 private:
  std::vector<rating_batch> batches_;
  std::size_t at_ = 0;
  mutable std::mutex m_;
  std::vector<std::string> acked_;
};

/// 20 batches of 1,000 synthetic ratings (300 users, 200 items).
inline std::vector<rating_batch> planted_batches() {
  return take_batches(*synthetic_source({.users = 300, .items = 200, .ratings = 20'000, .batch_size = 1000}), 100);
}

/// Largest relative difference between two parameter vectors (0 when bit-equal).
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    double x = a[k], y = b[k];
    double scale = std::max({std::abs(x), std::abs(y), 1e-12});
    worst = std::max(worst, std::abs(x - y) / scale);
  }
  return worst;
}

/// The same ids, counts and mean, and every parameter within 1e-9 relative (the engine's
/// equivalence bound); the rated-items index too when `rated` is set.
inline void require_equivalent(const factor_model& got, const factor_model& ref,
                               bool rated = false) {
  REQUIRE(got.users() == ref.users());
  REQUIRE(got.items() == ref.items());
  CHECK(got.user_count() == ref.user_count());
  CHECK(got.item_count() == ref.item_count());
  CHECK(got.mu() == ref.mu());
  CHECK(got.mu_count() == ref.mu_count());
  if (rated) {
    CHECK(got.rated().offsets == ref.rated().offsets);
    CHECK(got.rated().items == ref.rated().items);
  }
  double worst = std::max({max_rel_diff(got.user_bias(), ref.user_bias()),
                           max_rel_diff(got.item_bias(), ref.item_bias()),
                           max_rel_diff(got.U().data(), ref.U().data()),
                           max_rel_diff(got.P().data(), ref.P().data())});
  INFO("largest relative difference " << worst);
  CHECK(worst <= 1e-9);
}

/// `o` with the training parameters and a live source on 1..5.
inline stream_job_options source_job(stream_job_options o, const stream_params& params,
                                     std::shared_ptr<rating_source> src) {
  o.training = params;
  o.input = source_input{std::move(src), {1.0, 5.0}};
  return o;
}

}  // namespace recflow::test
