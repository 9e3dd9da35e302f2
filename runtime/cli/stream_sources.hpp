/// `recflow stream --source SPEC` and checkpoints (`--checkpoint-dir`, `--resume`): the
/// options and the run, kept beside cmd_stream.cpp, which hands over when they are used.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/data_options.hpp"
#include "recflow/engine/run_stream.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow::cli {

/// The source grammar, for --help and errors.
inline constexpr const char* source_grammar =
  "redis://HOST:PORT/STREAM (a Redis stream, read with a consumer group), "
  "tcp://HOST:PORT (newline-delimited ratings from a TCP server), "
  "replay:FILE (FILE in timestamp order, paced by --replay-speed), "
  "file:FILE (FILE in file order)";

/// Options of the source and of checkpoints, with defaults.
struct source_cli_options {
  std::string source;               ///< the spec; empty: --train/--data in memory
  std::string checkpoint_dir;       ///< empty: no checkpoints
  std::size_t checkpoint_every = 10;
  std::size_t checkpoint_keep = 3;
  bool resume = false;
  double batch_interval = 0.0;      ///< seconds; redis and tcp: wall time, replay: event time
  double idle_timeout = 0.0;        ///< redis: end after this long without entries (0: wait for eos)
  double replay_speed = 86'400.0;   ///< replay: event seconds per wall second (0: no pacing)
  std::string redis_group = "recflow";
  std::string redis_consumer = "trainer";

  void add_to(CLI::App& cmd);
  /// Whether the run goes through run_stream_from_source().
  bool wanted() const { return !source.empty() || !checkpoint_dir.empty() || resume; }
};

struct stream_serve_settings;  // cli/stream_serving.hpp

/// What the rest of `recflow stream` parsed.
struct stream_run_settings {
  const data_options& data;
  const stream_params& params;
  const stream_eval_options& eval;
  const local_stream_options& local;
  const std::string& engine;
  const std::string& csv;
  bool no_csv;
  const std::string& save;
  bool json;
  bool quiet;
  std::shared_ptr<const factor_model> seed;  ///< --init-model, or null
  const stream_serve_settings* serve = nullptr;  ///< --serve and its options, or null
};

/// Runs the stream from the source (or --train/--data with checkpoints); the exit code.
int run_stream_from_source(const source_cli_options& o, const stream_run_settings& s);

}  // namespace recflow::cli
