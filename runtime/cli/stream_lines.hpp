/// What `recflow stream` writes per batch, in one place for every way it streams: the
/// per-batch CSV row and the error part of the per-batch line. A batch that was not
/// evaluated (--eval-every) has empty rmse and mae fields and prints "rmse -".
#pragma once

#include <string>

#include <fmt/core.h>

#include "recflow/model/stream_eval.hpp"

namespace recflow::cli {

/// The header of the per-batch CSV.
inline constexpr const char* stream_csv_header =
  "batch,ratings_seen,rmse,mae,batch_seconds,elapsed_seconds\n";

/// One CSV row (with its newline).
inline std::string csv_row(const stream_report& r) {
  auto errors = r.evaluated ? fmt::format("{:.6f},{:.6f}", r.rmse, r.mae) : std::string(",");
  return fmt::format("{},{},{},{:.6f},{:.6f}\n", r.batch, r.ratings_seen, errors,
                     r.batch_seconds, r.elapsed_seconds);
}

/// "rmse 0.9612  mae 0.7588", or "rmse -       mae -" for a batch not evaluated.
inline std::string error_text(const stream_report& r) {
  if (!r.evaluated)
    return "rmse -       mae -     ";
  return fmt::format("rmse {:.4f}  mae {:.4f}", r.rmse, r.mae);
}

}  // namespace recflow::cli
