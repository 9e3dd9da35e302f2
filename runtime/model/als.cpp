#include "recflow/model/als.hpp"

#include <cmath>
#include <string>

#include "recflow/model/als_blocks.hpp"
#include "recflow/model/als_solver.hpp"

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

bool non_negative_finite(double v) noexcept { return std::isfinite(v) && v >= 0.0; }

}  // namespace

std::string shown_parameter(double v) {
  return std::isfinite(v) ? std::to_string(v) : (std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
}

result<void> validate(const als_common_params& p) {
  if (p.rank <= 0)
    return invalid("rank must be positive, got " + std::to_string(p.rank));
  if (p.iterations <= 0)
    return invalid("iterations must be positive, got " + std::to_string(p.iterations));
  if (!non_negative_finite(p.lambda))
    return invalid("lambda must be non-negative and finite, got " + shown_parameter(p.lambda));
  if (!non_negative_finite(p.lambda_exponent))
    return invalid("lambda_exponent must be non-negative and finite, got "
                   + shown_parameter(p.lambda_exponent));
  if (!non_negative_finite(p.init_stddev))
    return invalid("init_stddev must be non-negative and finite, got "
                   + shown_parameter(p.init_stddev));
  return {};
}

result<void> validate(const als_params& p) {
  if (auto ok = validate(als_common_params{p.rank, p.iterations, p.lambda, p.lambda_exponent,
                                           p.init_stddev});
      !ok)
    return ok;
  if (!non_negative_finite(p.lambda_bias))
    return invalid("lambda_bias must be non-negative and finite, got "
                   + shown_parameter(p.lambda_bias));
  if (p.biases != bias_mode::joint && p.biases != bias_mode::alternate)
    return invalid("biases must be joint or alternate");
  if (p.method != normal_equations::gathered && p.method != normal_equations::rank_one
      && p.method != normal_equations::naive)
    return invalid("method must be gathered, rank_one or naive");
  return {};
}

result<factor_model> train_als(const rating_table& train, const als_params& p,
                               const als_progress& progress) {
  if (auto ok = validate(p); !ok)
    return ok.err();
  auto blocks = als_training_blocks(train);
  if (!blocks)
    return blocks.err();
  als_solver solver(p);
  return run_als_sweeps(
      *blocks, als_initial_model(train, *blocks, p), p.iterations,
      [&](const rating_blocks& b, factor_model& m) { als_sweep(b, m, solver); },
      [](const rating_blocks& b, const factor_model& m) { return training_rmse(m, b.by_user); },
      progress);
}

}  // namespace recflow
