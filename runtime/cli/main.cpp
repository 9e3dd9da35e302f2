/// recflow: train, stream and query biased matrix-factorization recommenders.
/// Run `recflow --help`, or `recflow stream --help` for one subcommand.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"

int main(int argc, char** argv) {
  CLI::App app{"recflow: a streaming recommendation engine (biased matrix factorization "
               "trained by batch ALS or by streaming micro-batches)",
               "recflow"};
  app.set_config("--config", "",
                 "Read options from a TOML file (sections per subcommand; see "
                 "config/recflow.toml for every option and default)");
  app.set_version_flag("--version", RECFLOW_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // `recflow stream --config FILE` works as well as `recflow --config FILE stream`
  int status = recflow::cli::exit_ok;
  recflow::cli::add_batch_command(app, status);
  recflow::cli::add_stream_command(app, status);
  recflow::cli::add_query_commands(app, status);
  recflow::cli::add_compare_command(app, status);
  recflow::cli::add_partitions_command(app, status);
  recflow::cli::add_tune_command(app, status);
  recflow::cli::add_node_command(app, status);
  recflow::cli::add_publish_command(app, status);
  recflow::cli::add_serve_command(app, status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : recflow::cli::exit_usage;
  }
  return status;
}
