/// What `recflow tune` prints and writes: the ranked table, the work summary, and the
/// best settings as a TOML config file that `recflow batch|stream --config` reads.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "recflow/model/error.hpp"
#include "recflow/model/tune.hpp"
#include "recflow/model/tune_problem.hpp"

namespace recflow::cli {

/// The ranked table: the best `top` candidates, then the defaults' row if not among them.
std::string tune_table(const tune_problem& p, const tune_report& r, std::size_t top);

/// "work: 14.2M rating-sweeps (...) = 12.2% of the full grid ...": measured work of the
/// search against the full grid and against the same candidates without pruning.
std::string work_summary(const tune_report& r, int full_iterations, tune_mode mode);

/// Every tunable setting of the mode's subcommand (rank, lambda, ...; for stream also
/// passes, batch-size and order) for candidate `c`, as option name -> value.
nlohmann::json settings_json(const tune_problem& p, const candidate& c, const std::string& order);

/// Writes the [batch] or [stream] section with `settings` to `path` (through a temporary
/// file renamed into place), after the comment lines of `header`.
result<void> write_tuned_config(const std::string& path, tune_mode mode,
                                const nlohmann::json& settings, const std::string& header);

}  // namespace recflow::cli
