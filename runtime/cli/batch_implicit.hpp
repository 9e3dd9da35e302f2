/// `recflow batch --implicit`: implicit ALS on events, scored by leave-latest-out HR@k and
/// NDCG@k beside the popularity baseline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/data_options.hpp"
#include "recflow/job/implicit_job.hpp"
#include "recflow/serve/monitor.hpp"

namespace recflow::cli {

/// The options only implicit runs have.
struct implicit_options {
  bool implicit = false;               ///< --implicit
  implicit_job_options job{};
  std::optional<double> threshold{};   ///< --implicit-threshold: ratings >= T as events
  std::string solver = "cholesky";
  std::string confidence = "linear";
  std::string weighting = "none";

  /// Registers --implicit, --alpha, --implicit-threshold, --solver, --cg-steps,
  /// --confidence, --epsilon, --weighting, --bm25-k1, --bm25-b, --missing-exponent,
  /// --recency-boost, --recency-half-life and --negatives; `help`: what --implicit does
  /// in `cmd` (default: batch's words).
  void add_to(CLI::App& cmd, const char* help = nullptr);

  /// The options add_to registers but --implicit itself (to tell which were given).
  static const std::vector<std::string>& option_names();

  /// Parses the words (--solver, --confidence, --weighting) into job.als: "--solver must
  /// be cholesky or cg, got 'x'" and friends.
  result<void> parse_words();

  /// Parses the words (parse_words), seeds the model,
  /// the split and the negatives with --seed, checks the data is one file (--data, not
  /// --train/--test) and validates the parameters and the ranking options (k as set).
  result<void> resolve(const data_options& data);

  /// "events" or "ratings >= 4 as events": what the file was read as.
  std::string events_text() const;

  /// Reads the events of the one data file (threshold applied); bad lines skipped in
  /// lenient mode are reported on stderr. `file` is set to the file read.
  result<rating_table> read(const data_options& data, std::string& file) const;
};

/// What an implicit run takes from the options `batch` shares with explicit ALS: the
/// data, and --rank, --iterations, --lambda, --lambda-exponent and --init-stddev where
/// given (on the command line or in a config file; otherwise implicit_params' defaults).
struct implicit_shared {
  const data_options& data;
  const als_params& als;
  const CLI::App& cmd;  ///< to tell which shared options were given
  std::size_t k = 10;   ///< --ranking-k: HR@k and NDCG@k
  std::string save;
  bool json = false;
  bool quiet = false;
  std::optional<double> time_split{};  ///< --time-split: full ranking on a time split
  std::size_t workers = 1;             ///< threads of the full ranking
  serve::live_monitor* monitor = nullptr;  ///< --metrics: sweeps and the final figures
};

/// HR@k and NDCG@k of held-out events as /metrics gauges (batch and stream --implicit).
void show_ranking(serve::live_monitor& monitor, const sampled_ranking_metrics& r);

/// Runs it and prints the report (and the JSON summary); returns the exit code.
int run_batch_implicit(implicit_options o, const implicit_shared& shared);

}  // namespace recflow::cli
