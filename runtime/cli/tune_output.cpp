#include "cli/tune_output.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace recflow::cli {

namespace {

std::string budget_text(const tune_problem& p, double fraction) {
  if (p.space.mode == tune_mode::batch)
    return fmt::format("{} it", std::max(1L, std::lround(fraction * p.als.iterations)));
  return fmt::format("{:.0f}%", fraction * 100.0);
}

std::string millions(std::uint64_t w) { return fmt::format("{:.1f}M", double(w) / 1e6); }

}  // namespace

std::string tune_table(const tune_problem& p, const tune_report& r, std::size_t top) {
  std::string out = fmt::format("{:>4}  {:>10}  {:>7}  {:>7}  {:>8}  {}\n", "#", "valid rmse",
                                "budget", "bracket", "work", "settings");
  auto row = [&](std::size_t k) {
    const auto& c = r.ranked[k];
    out += fmt::format("{:>4}  {:>10.4f}  {:>7}  {:>7}  {:>8}  {}{}\n", k + 1, c.rmse,
                       budget_text(p, c.fraction),
                       c.bracket < 0 ? std::string("-") : fmt::format("s={}", c.bracket),
                       millions(c.work), describe(p.space, c.settings),
                       c.settings.is_default ? "  (defaults)" : "");
  };
  for (std::size_t k = 0; k < r.ranked.size() && k < top; ++k)
    row(k);
  if (r.ranked.size() > top) {
    if (r.defaults >= top) {
      out += "   ...\n";
      row(r.defaults);
    }
    out += fmt::format("   ({} candidates in all)\n", r.ranked.size());
  }
  return out;
}

std::string work_summary(const tune_report& r, int full_iterations, tune_mode mode) {
  auto pct = [](std::uint64_t a, std::uint64_t b) { return b ? 100.0 * double(a) / double(b) : 0.0; };
  std::string full = mode == tune_mode::batch ? fmt::format("{} iterations", full_iterations)
                                              : std::string("the whole window");
  if (r.work == r.unpruned_work)
    return fmt::format("work: {} {} in {} trials, every candidate at the full budget ({:.1f}% "
                       "of the full grid: {} candidates at {}, {})",
                       millions(r.work), r.work_unit, r.trials, pct(r.work, r.grid_work),
                       r.grid_candidates, full, millions(r.grid_work));
  return fmt::format(
    "work: {} {} in {} trials = {:.1f}% of the full grid ({} candidates at {}: {}), "
    "pruning saved {:.1f}% of it; the {} candidates tried, each at the full budget: {} "
    "(pruning saved {:.1f}%)",
    millions(r.work), r.work_unit, r.trials, pct(r.work, r.grid_work), r.grid_candidates, full,
    millions(r.grid_work), 100.0 - pct(r.work, r.grid_work), r.ranked.size(),
    millions(r.unpruned_work), 100.0 - pct(r.work, r.unpruned_work));
}

nlohmann::json settings_json(const tune_problem& p, const candidate& c, const std::string& order) {
  nlohmann::json j = nlohmann::json::object();
  if (p.space.mode == tune_mode::batch) {
    auto a = apply(p.space, c, p.als);
    j["rank"] = a.rank;
    j["iterations"] = a.iterations;
    j["lambda"] = a.lambda;
    j["lambda-bias"] = a.lambda_bias;
    j["lambda-exponent"] = a.lambda_exponent;
  } else {
    auto s = apply(p.space, c, p.stream);
    j["rank"] = s.params.rank;
    j["batch-size"] = s.batch_size;
    j["passes"] = s.params.passes;
    j["order"] = order;
    j["gamma"] = s.params.gamma;
    j["gamma-bias"] = s.params.gamma_bias;
    j["lambda"] = s.params.lambda;
    j["lambda-bias"] = s.params.lambda_bias;
  }
  return j;
}

result<void> write_tuned_config(const std::string& path, tune_mode mode,
                                const nlohmann::json& settings, const std::string& header) {
  std::ostringstream text;
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);)
    text << "# " << line << '\n';
  text << '[' << to_string(mode) << "]\n";
  for (const auto& [key, value] : settings.items()) {
    if (value.is_string())
      text << key << " = \"" << value.get<std::string>() << "\"\n";
    else if (value.is_number_float())
      text << key << " = " << fmt::format("{}", value.get<double>()) << '\n';
    else
      text << key << " = " << value.dump() << '\n';
  }
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << text.str()) || !out.flush())
      return error{errc::io, path + ": cannot write the tuned settings"};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return error{errc::io, path + ": cannot write the tuned settings (" + ec.message() + ")"};
  }
  return {};
}

}  // namespace recflow::cli
