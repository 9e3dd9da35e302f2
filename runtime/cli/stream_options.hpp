/// What `recflow stream` parses (cmd_stream.cpp) and how it runs: a table in memory
/// (stream_run.cpp), or a live source or a run with checkpoints (stream_sources.cpp), both
/// through run_stream_job() (engine/stream_job.hpp) and the job layer's outputs.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/batch_implicit.hpp"
#include "cli/data_options.hpp"
#include "cli/nodes_option.hpp"
#include "cli/serve_options.hpp"
#include "recflow/engine/stream_job.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/job/source_spec.hpp"
#include "recflow/job/stream_output.hpp"
#include "recflow/job/stream_monitoring.hpp"
#include "recflow/job/stream_serving.hpp"
#include "recflow/model/implicit_stream.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/stream_eval.hpp"

namespace recflow::cli {

/// Options of the source and of checkpoints, with defaults.
struct source_cli_options {
  std::string source;               ///< the spec; empty: --train/--data in memory
  std::string checkpoint_dir;       ///< empty: no checkpoints
  std::size_t checkpoint_every = 10;
  std::size_t checkpoint_keep = 3;
  bool resume = false;
  source_spec_options spec;         ///< --batch-interval, --idle-timeout, --replay-speed, --redis-*

  void add_to(CLI::App& cmd);
  /// Whether the run goes through run_stream_tracked().
  bool wanted() const { return !source.empty() || !checkpoint_dir.empty() || resume; }
};

/// Everything `recflow stream` parses.
struct stream_options {
  data_options data;
  stream_params params;
  stream_eval_options eval;
  ranking_options ranking;
  std::string order = "random";
  std::string mode = "batch-gradient";
  std::string init_model;
  std::string engine = "local";
  bool engine_given = false;  ///< --engine was on the command line or in the config
  bool rank_given = false;    ///< --rank was given (else a seed model's rank is taken)
  engine_options engine_opts;
  std::size_t partitions = stream_job_options{}.partitions;
  std::string partitioner{to_string(stream_job_options{}.partitioner)};
  std::string nodes;     ///< --nodes host:port,...: run the owners on `recflow node` processes
  link_options link;     ///< --secret-file, --tls-*, --insecure: how the driver proves itself
  bool explain = false;  ///< --explain: print which node owns which shards
  bool recover = false;  ///< --recover
  std::string csv = "recflow-stream.csv";
  bool no_csv = false;
  std::string save;
  bool json = false;
  bool quiet = false;
  source_cli_options sources;  ///< --source, --checkpoint-dir, --resume
  std::string serve;          ///< HOST:PORT: serve queries while training
  double serve_linger = -1;   ///< seconds to serve the final model; negative: until a signal
  /// With --serve: publish a model at most every this many ms (0: every batch).
  std::int64_t publish_interval_ms = stream_job_options{}.publish_interval.count();
  /// With --serve: the priority of the training threads, "idle" or a nice value 0..19
  /// (queries come first; engine/thread_priority.hpp).
  std::string training_nice = "idle";
  serve_tuning serving;
  std::string metrics;        ///< HOST:PORT: /metrics and the dashboard only
  double baseline_rmse = 0;   ///< the batch ALS RMSE the dashboard draws as a line (0: none)
  implicit_options implicit;  ///< --implicit and the options only implicit runs have
  int refresh_every = implicit_stream_params{}.refresh_every;  ///< --refresh-every
};

/// The servers beside a stream: --metrics (with the dashboard) and --serve; each null
/// without its option. Monitoring is first: --serve's server uses its monitor.
struct stream_endpoints {
  std::unique_ptr<stream_monitoring> monitoring;
  std::unique_ptr<stream_serving> serving;

  /// The stream ended: the final model's validation error for the dashboard.
  void finish_monitoring(std::optional<double> rmse, std::optional<double> mae) {
    if (monitoring)
      monitoring->finish(rmse, mae);
  }
  /// Keeps serving (and the metrics up) for --serve-linger, then stops.
  void linger(double seconds) {
    if (serving)
      serving->linger(seconds);
    else if (monitoring)
      monitoring->linger(seconds);
  }
};

/// Runs `recflow stream`; the exit code.
int run_stream(stream_options& o);
/// `recflow stream --implicit` (stream_implicit.cpp); `cmd` tells which options were given.
int run_stream_implicit(stream_options& o, const CLI::App& cmd);

/// The job `o` describes but for its input and serving, once the choices spelled as words
/// (--order, --mode, --engine, --nodes, ...) are parsed and checked (stream_setup.cpp).
result<stream_job_options> configure_stream(stream_options& o);

/// The seed model of --init-model (null without), whose rank the run takes unless --rank
/// is given; then the parameters and the combinations of options are checked.
result<std::shared_ptr<const factor_model>> load_stream_seed(stream_options& o);

/// The run with a live source or checkpoints (stream_sources.cpp); `job` is configured
/// but for its input and serving. The exit code.
int run_stream_tracked(const stream_options& o, stream_job_options job,
                       std::shared_ptr<const factor_model> seed,
                       std::chrono::steady_clock::time_point t0);

/// --save (with the run's metadata) and --json (with the ranking metrics when given); the
/// exit code.
int save_and_summarize(const stream_options& o, const factor_model& model, stream_facts& f,
                       std::chrono::steady_clock::time_point t0,
                       const ranking_metrics* ranked = nullptr);

/// What a stream (explicit or implicit) puts beside it with --serve and --metrics.
struct endpoint_setup {
  std::string what;                          ///< the data, as the page names it
  int rank = 0;
  rating_scale scale{};
  std::shared_ptr<const factor_model> seed{};  ///< served first (null: an empty model)
  model_metadata metadata{};                 ///< what GET /model shows
  /// Describes the run on the monitor and routes the job's measurements into it.
  std::function<void(stream_monitoring&)> describe{};
  /// Routes the job through the started server, its training threads at `priority`.
  std::function<void(stream_serving&, thread_priority priority)> attach{};
};

/// With --serve: starts serving the model the stream starts from (`seed`, or empty on
/// `scale`), lowers this (driving) thread's priority and attaches the job. With --serve or
/// --metrics: a monitor on --serve's server and on the --metrics one. Start it before any
/// other thread starts.
result<stream_endpoints> start_endpoints(const stream_options& o, const endpoint_setup& e);

/// start_endpoints for an explicit stream: a monitor fed by the job, the job's training
/// threads at --training-nice. `what` names the data on the page.
result<stream_endpoints> start_stream_serving(const stream_options& o, stream_job_options& job,
                                              rating_scale scale,
                                              std::shared_ptr<const factor_model> seed,
                                              const std::string& what);

}  // namespace recflow::cli
