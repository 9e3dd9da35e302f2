/// What `recflow tune` prints and writes: the ranked table, the work summary, and the
/// best settings as a TOML config file that `recflow batch|stream --config` reads.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/batch_implicit.hpp"
#include "cli/data_options.hpp"
#include "recflow/job/tune_job.hpp"
#include "recflow/model/error.hpp"
#include "recflow/tune/tune.hpp"
#include "recflow/tune/tune_problem.hpp"

namespace recflow::cli {

/// What `recflow tune` parses.
struct tune_cli_options {
  data_options data;
  tune_job_options job;
  std::string mode = "batch";
  std::string search_name = "hyperband";
  std::string sample = "random";
  std::string prune = "none";
  std::string order = "random";
  std::size_t top = 10;
  std::string out;
  bool json = false;
  bool quiet = false;
  implicit_options implicit;  ///< --implicit and the data options of `batch --implicit`
};

/// The ranked table: the best `top` candidates, then the defaults' row if not among them.
std::string tune_table(const tune_problem& p, const tune_report& r, std::size_t top);

/// "work: 14.2M rating-sweeps (...) = 12.2% of the full grid ...": measured work of the
/// search against the full grid and against the same candidates without pruning.
std::string work_summary(const tune_report& r, int full_iterations, tune_mode mode);

/// ALS iterations of the full budget (batch, implicit; 0 for stream).
int full_iterations(const tune_problem& p);

/// Every tunable setting of the mode's subcommand (rank, lambda, ...; for stream also
/// passes, batch-size and order; for implicit implicit = true and every option of
/// `batch --implicit` that shapes the model or its ranking) for candidate `c`, as option
/// name -> value.
nlohmann::json settings_json(const tune_problem& p, const candidate& c, const std::string& order);

/// Writes the [batch] (batch, implicit) or [stream] section with `settings` to `path`
/// (through a temporary file renamed into place), after the comment lines of `header`.
result<void> write_tuned_config(const std::string& path, tune_mode mode,
                                const nlohmann::json& settings, const std::string& header);

/// "hold-out: 64000 train / 16000 validation", "5-fold cross-validation" or the stream window.
std::string validation_text(const tune_job_options& o, const tune_problem& p,
                            const std::string& order);

/// "grid of 48 candidates, each at the full budget", "hyperband (eta 3, sampling random): ...".
std::string plan_text(const tune_options& s, const tune_problem& p, const std::string& sample);

/// The --json summary but for mode, search and out.
nlohmann::json tune_summary(const tune_report& r, const error_metrics& best_test,
                            const error_metrics& default_test, const nlohmann::json& settings,
                            std::size_t train_ratings, std::size_t workers, double seconds);

/// The --json summary of an implicit search but for search and out.
nlohmann::json tune_implicit_summary(const tune_report& r, const tune_job_result& t,
                                     const nlohmann::json& settings, std::size_t workers,
                                     double seconds);

/// The results of a search: the table, the best settings and their test scores, --out
/// and --json; the exit code.
int print_tune_results(const tune_cli_options& o, const loaded_data& data, const tune_problem& p,
                       const tune_job_result& t, double seconds);

}  // namespace recflow::cli
