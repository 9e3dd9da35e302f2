/// The errors of many predictions in a row, as the validation evaluators compute them after
/// every batch of a stream (the reference's validation_evaluator and the graph's
/// shard_evaluation). Evaluation reads every validation rating's two factor rows from
/// tables far larger than the caches, so it is bound by memory latency, not arithmetic:
/// the loop below looks up each rating's rows a few ratings ahead and prefetches them.
/// Every prediction is the one predict_rows computes, bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "recflow/model/model.hpp"
#include "recflow/model/stream_kernel.hpp"

namespace recflow {

/// One rating to predict: its rows (see known_row), its truth, and where its error goes.
struct error_job {
  known_row user, item;
  double value = 0.0;
  std::uint32_t pos = 0;
};

namespace detail {

/// predict_rows with the kernels `o` (stream_kernel::with_rank) chosen by the caller.
template <class Ops>
double predict_with(const Ops& o, double mu, const rating_scale& scale, known_row user,
                    known_row item) noexcept {
  double p = mu;
  if (user.known() && item.known())
    p = mu + user.bias + item.bias + static_cast<double>(o.dot(user.factors, item.factors));
  else if (user.known())
    p += user.bias;
  else if (item.known())
    p += item.bias;
  if (!std::isfinite(p))
    p = mu;
  return scale.clamp(p);
}

}  // namespace detail

/// errors[j.pos] = predict_rows(mu, scale, j.user, j.item, rank) - j.value for each job
/// j = job_of(0), ..., job_of(n - 1), taken in that order; the jobs `prefetch_ahead`
/// later are looked up early and their rows prefetched. Callers that loop over many
/// ratings mark the function that calls this RECFLOW_VECTOR_LOOP (stream_kernel.hpp).
template <class JobOf>
void predict_errors(std::size_t n, JobOf&& job_of, double mu, const rating_scale& scale,
                    int rank, double* errors) {
  stream_kernel::with_rank(rank, [&](const auto& o) {
    constexpr std::size_t ahead = stream_kernel::prefetch_ahead;
    const auto k_floats = static_cast<std::size_t>(rank);
    error_job ring[ahead];
    auto fetch = [&](error_job& slot, std::size_t k) {
      slot = job_of(k);
      if (slot.user.known())
        stream_kernel::prefetch(slot.user.factors, k_floats);
      if (slot.item.known())
        stream_kernel::prefetch(slot.item.factors, k_floats);
    };
    for (std::size_t k = 0; k < std::min(n, ahead); ++k)
      fetch(ring[k], k);
    for (std::size_t k = 0; k < n; ++k) {
      const error_job job = ring[k % ahead];
      if (k + ahead < n)
        fetch(ring[k % ahead], k + ahead);
      errors[job.pos] = detail::predict_with(o, mu, scale, job.user, job.item) - job.value;
    }
  });
}

}  // namespace recflow
