/// Search spaces of `recflow tune`: which hyper-parameters vary, over which values, and
/// how candidates are drawn from them (a full grid, or seeded random samples).
///
///   auto space = default_space(tune_mode::batch);      // rank, lambda, lambda-bias, ...
///   set_param(space, parse_param("lambda=0.1..10:log").value());
///   auto grid = grid_candidates(space, 3);              // every combination
///   auto some = random_candidates(space, 20, 42);       // 20 seeded samples
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "recflow/model/als.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/implicit_als.hpp"
#include "recflow/model/streaming.hpp"

namespace recflow {

/// What is tuned: batch ALS, streaming micro-batch training, or implicit ALS on events.
enum class tune_mode { batch, stream, implicit };

/// "batch", "stream" or "implicit".
const char* to_string(tune_mode m) noexcept;

/// One hyper-parameter and the values it may take: a list, or a range [lo, hi] sampled
/// uniformly (or log-uniformly when `log`). Names are the command-line option names
/// ("rank", "lambda", "lambda-bias", "gamma", "batch-size", ...).
struct param_spec {
  std::string name;
  std::vector<double> values;  ///< a list; empty for a range
  double lo = 0.0, hi = 0.0;   ///< a range, used when `values` is empty
  bool log = false;            ///< a range on a log scale (lo > 0)
  bool integer = false;        ///< values are rounded to whole numbers
};

/// The parameters that vary; everything else keeps its default.
struct search_space {
  tune_mode mode = tune_mode::batch;
  std::vector<param_spec> params;
};

/// Parses "NAME=1,2,3" (a list), "NAME=LO..HI" or "NAME=LO..HI:log" (a range) for `mode`
/// ("unknown parameter 'gama' for tune --mode stream; one of ...", "lambda: range needs
/// 0 < LO < HI on a log scale", ...). Implicit: rank, lambda, alpha.
result<param_spec> parse_param(const std::string& text, tune_mode mode);

/// "NAME=1,2,3" or "NAME=LO..HI[:log]", as parse_param reads it.
std::string to_string(const param_spec& p);

/// The shipped search space of each mode, centred on the shipped defaults (each range's
/// three-point grid contains the default):
///  batch:  rank 10,30,50; lambda 0.65..2.6:log; lambda-bias 0.35..1.4:log;
///          lambda-exponent 0.3..0.7 (81 grid points)
///  stream: rank 10,20,40; gamma 0.01..0.09:log; gamma-bias 0.002..0.0125:log;
///          lambda 0.01..0.16:log; passes 3,6,12; batch-size 500,1000,2000 (729 grid points)
///  implicit: rank 16,32,64; lambda 12.5..200:log; alpha 0.75..12:log (27 grid points)
search_space default_space(tune_mode mode);

/// Replaces the parameter of the same name in `space`, or adds it.
void set_param(search_space& space, param_spec p);

/// A point of the space: one value per parameter of the space, in its order.
struct candidate {
  std::vector<double> values;
  bool is_default = false;  ///< the shipped defaults (always tried)
};

/// Values of a range on a grid of `points` (>= 2; log-spaced for log ranges), or the list.
std::vector<double> grid_values(const param_spec& p, int points);

/// Every combination of grid_values (the first parameter varies slowest).
std::vector<candidate> grid_candidates(const search_space& space, int points);

/// Number of grid candidates, without building them (saturating at 2^50).
std::size_t grid_size(const search_space& space, int points);

/// `n` seeded samples: a list value uniformly, a range (log-)uniformly, rounded to three
/// significant digits (whole numbers for integer parameters). Same seed, same samples.
std::vector<candidate> random_candidates(const search_space& space, std::size_t n,
                                         std::uint64_t seed);

/// Settings for streaming: the trainer's parameters and the micro-batch size.
struct stream_settings {
  stream_params params;
  std::size_t batch_size = 1000;
};

/// The shipped defaults as a point of `space` (is_default set).
candidate default_candidate(const search_space& space, const als_params& base);
candidate default_candidate(const search_space& space, const stream_settings& base);
candidate default_candidate(const search_space& space, const implicit_params& base);

/// `base` with the candidate's values applied.
als_params apply(const search_space& space, const candidate& c, als_params base);
stream_settings apply(const search_space& space, const candidate& c, stream_settings base);
implicit_params apply(const search_space& space, const candidate& c, implicit_params base);

/// "rank=30 lambda=1.3 ..." for people.
std::string describe(const search_space& space, const candidate& c);

}  // namespace recflow
