/// The subcommands of `recflow`. Each parses its options into a struct and calls the
/// library; none holds logic of its own beyond presenting results.
#pragma once

#include <CLI/CLI.hpp>

namespace recflow::cli {

/// Registers each subcommand on `app`; the subcommand runs from the callback and stores
/// its exit code in `exit_status`.
void add_batch_command(CLI::App& app, int& exit_status);
void add_stream_command(CLI::App& app, int& exit_status);
void add_query_commands(CLI::App& app, int& exit_status);
void add_compare_command(CLI::App& app, int& exit_status);
void add_partitions_command(CLI::App& app, int& exit_status);
void add_tune_command(CLI::App& app, int& exit_status);
void add_node_command(CLI::App& app, int& exit_status);
void add_publish_command(CLI::App& app, int& exit_status);
void add_serve_command(CLI::App& app, int& exit_status);

}  // namespace recflow::cli
