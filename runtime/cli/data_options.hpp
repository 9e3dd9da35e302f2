/// Command-line options that say which ratings to train and test on, and loading them.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "recflow/data/ingest.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/ratings.hpp"
#include "recflow/model/split.hpp"

namespace recflow::cli {

/// `--train/--test`, or `--data` with `--split` and `--seed`, plus the file format.
struct data_options {
  std::string train;
  std::string test;
  std::string data;
  double split = 0.8;
  std::uint64_t seed = 42;
  std::string format = "detect";
  std::string separator;
  bool header = false;
  std::string columns;  ///< "user,item,rating[,timestamp]" zero-based, delimited only
  std::string scale;    ///< "MIN:MAX"
  bool lenient = false;

  /// Registers the options on a subcommand.
  void add_to(CLI::App& app);
};

/// Training and test ratings in one id space.
struct loaded_data {
  rating_table train;  ///< ratings to train on, with the shared id maps and scale
  rating_table test;   ///< held-out ratings, same id maps
  std::string source;  ///< what was read, for people ("u1.base + u1.test", ...)
  std::uint64_t skipped = 0;  ///< bad lines skipped in lenient mode
};

/// Reads the data the options name. Without --train or --data it looks for MovieLens
/// 100K (`ml-100k/u.data`) in $RECFLOW_DATA, ./data or ../shared/data, and otherwise
/// fails with a message on how to download it. Lines skipped in lenient mode are
/// reported on stderr.
result<loaded_data> load_data(const data_options& opts);

/// The one file `--data` names, or without it the default MovieLens 100K `u.data` (as
/// load_data looks for it), or an error on how to get it.
result<std::string> data_file(const data_options& opts);

/// Ingest options from the format flags.
result<ingest_options> make_ingest_options(const data_options& opts);

/// --order's word: random or time; "--order must be random or time, got 'x'" otherwise.
result<stream_order> parse_order(const std::string& word);

}  // namespace recflow::cli
