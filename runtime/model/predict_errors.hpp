/// The predictions of many ratings in a row, as the validation evaluators compute them after
/// every batch of a stream (the reference's validation_evaluator and the graph's
/// shard_evaluation). Evaluation reads every validation rating's two factor rows from
/// tables far larger than the caches, so it is bound by memory latency, not arithmetic:
/// the loop below looks up each rating's rows a few ratings ahead and prefetches them.
///
/// A prediction is split in two: its core, b_u + b_i + u . p (what the rows give), and
/// its finish, clamp(mu + core) (what the running mean adds). A stream moves mu after
/// every batch but only the rows of the batch's users and items, so an evaluator keeps
/// each validation rating's core and computes again only the cores whose rows changed
/// (stream_eval.hpp, shard_eval.hpp); every prediction is still the one predict_rows
/// computes, bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "recflow/model/model.hpp"
#include "recflow/model/stream_kernel.hpp"

namespace recflow {

/// One rating to predict: its rows (see known_row) and where its core goes.
struct core_job {
  known_row user, item;
  std::uint32_t pos = 0;
};

namespace detail {

/// b_u + b_i + u . p when both are known, else b_u, b_i or 0, with the kernels `o`
/// (stream_kernel::with_rank) chosen by the caller.
template <class Ops>
double prediction_core(const Ops& o, known_row user, known_row item) noexcept {
  if (user.known() && item.known())
    return user.bias + item.bias + static_cast<double>(o.dot(user.factors, item.factors));
  if (user.known())
    return user.bias;
  if (item.known())
    return item.bias;
  return 0.0;
}

}  // namespace detail

/// clamp(mu + core), or clamp(mu) when that sum is not finite: the prediction.
inline double finish_prediction(double mu, const rating_scale& scale, double core) noexcept {
  double p = mu + core;
  if (!std::isfinite(p))
    p = mu;
  return scale.clamp(p);
}

/// cores[j.pos] = the core of j.user and j.item for each job j = job_of(0), ...,
/// job_of(n - 1), taken in that order; the jobs `prefetch_ahead` later are looked up early
/// and their rows prefetched. Callers that loop over many ratings mark the function that
/// calls this RECFLOW_VECTOR_LOOP (stream_kernel.hpp).
template <class JobOf>
void predict_cores(std::size_t n, JobOf&& job_of, int rank, double* cores) {
  stream_kernel::with_rank(rank, [&](const auto& o) {
    constexpr std::size_t ahead = stream_kernel::prefetch_ahead;
    const auto k_floats = static_cast<std::size_t>(rank);
    core_job ring[ahead];
    auto fetch = [&](core_job& slot, std::size_t k) {
      slot = job_of(k);
      if (slot.user.known())
        stream_kernel::prefetch(slot.user.factors, k_floats);
      if (slot.item.known())
        stream_kernel::prefetch(slot.item.factors, k_floats);
    };
    for (std::size_t k = 0; k < std::min(n, ahead); ++k)
      fetch(ring[k], k);
    for (std::size_t k = 0; k < n; ++k) {
      const core_job job = ring[k % ahead];
      if (k + ahead < n)
        fetch(ring[k % ahead], k + ahead);
      cores[job.pos] = detail::prediction_core(o, job.user, job.item);
    }
  });
}

}  // namespace recflow
