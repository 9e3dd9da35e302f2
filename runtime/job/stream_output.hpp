/// What a streaming run writes, in one place for every way it streams: the per-batch CSV,
/// the per-batch error text, the metadata of the saved model and the JSON summary (the
/// formats `recflow stream` documents in docs/command-line.md).
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/engine/stream_job.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"

namespace recflow {

/// The header of the per-batch CSV.
inline constexpr const char* stream_csv_header =
  "batch,ratings_seen,rmse,mae,batch_seconds,elapsed_seconds\n";

/// One CSV row (with its newline); a batch not evaluated has empty rmse and mae fields.
std::string csv_row(const stream_report& r);

/// "rmse 0.9612  mae 0.7588", or "rmse -       mae -     " for a batch not evaluated.
std::string error_text(const stream_report& r);

/// The per-batch CSV of a run. A run that continues another (a resume) appends to the
/// file it finds, dropping the rows of batches the new run writes again (a killed run may
/// have written rows after its last checkpoint).
class stream_csv {
 public:
  /// Opens `path` (truncated, header written; with `continues`, appended to when it holds
  /// rows). "PATH: cannot write the per-batch CSV" when it cannot.
  static result<stream_csv> open(const std::string& path, bool continues = false);
  /// Writes the row of `r`.
  void write(const stream_report& r);
  void close() { out_.close(); }

 private:
  std::string path_;
  std::ofstream out_;
  bool trim_ = false;  ///< rows from r.batch on are dropped before the first row is written
};

/// What a streamed model's file and summary say about the run.
struct stream_facts {
  std::string data{};                ///< what was streamed: a file, a source spec
  stream_params params{};
  std::size_t batch_size = 0;
  std::size_t eval_every = 1;
  std::string mode = "batch-gradient";
  std::string engine = "local";      ///< local or reference
  std::size_t nodes = 0;
  std::string init_model{};          ///< the seed model's file, or empty
  std::uint64_t batches = 0;         ///< batches streamed (since the stream began)
  std::uint64_t train_ratings = 0;
  error_metrics final_metrics{};     ///< of the final model on the validation set
  std::optional<std::string> csv{};  ///< the per-batch CSV written
  std::optional<std::string> saved{};  ///< the model file written
  double seconds = 0.0;              ///< the whole command's wall time
  /// A table streamed without checkpoints: timings of the stream.
  struct timing {
    double stream_seconds = 0.0, update_rate = 0.0, median_batch_seconds = 0.0;
  };
  std::optional<timing> timed{};
  /// A live source or a run with checkpoints: what it applied, found and wrote.
  struct tracked_run {
    const stream_job_result* run = nullptr;
    std::uint64_t dead_letters = 0;
  };
  std::optional<tracked_run> tracked{};
};

/// The timings of `reports`: the stream's wall time, ratings x passes per second of
/// updates, the median batch time.
stream_facts::timing stream_timing(const std::vector<stream_report>& reports, int passes);

/// The saved model's metadata (trainer "stream", the parameters, where the stream stood).
model_metadata stream_metadata(const stream_facts& f);

/// The `--json` summary line of `recflow stream` (without the ranking metrics).
nlohmann::json stream_summary(const stream_facts& f);

}  // namespace recflow
