/// `recflow batch --implicit`: implicit ALS on events, scored by leave-latest-out HR@k and
/// NDCG@k beside the popularity baseline.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "cli/data_options.hpp"
#include "recflow/job/implicit_job.hpp"

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
  /// --confidence, --epsilon and --negatives (and the rest above); `help`: what
  /// --implicit does in `cmd` (default: batch's words).
  void add_to(CLI::App& cmd, const char* help = nullptr);
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
};

/// Runs it and prints the report (and the JSON summary); returns the exit code.
int run_batch_implicit(implicit_options o, const implicit_shared& shared);

/// --solver, --confidence and --weighting into `o.job.als`; "--solver must be cholesky or
/// cg, got 'x'" and friends.
result<void> parse_implicit_words(implicit_options& o);
/// The events of --data (with --implicit-threshold, a rating file's liked ratings), and
/// the file's name; skipped lines (--lenient) are counted on stderr.
result<std::pair<std::string, rating_table>> load_events(const data_options& data,
                                                         const implicit_options& o);
/// "events" or "ratings >= 4 as events".
std::string events_text(const implicit_options& o);

}  // namespace recflow::cli
