#include "recflow/tune/tune_space.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <utility>

namespace recflow {

namespace {

error invalid(std::string message) { return error{errc::invalid_argument, std::move(message)}; }

struct param_info {
  const char* name;
  bool integer;
};

constexpr param_info batch_params[] = {
  {"rank", true}, {"lambda", false}, {"lambda-bias", false}, {"lambda-exponent", false}};
constexpr param_info stream_params_info[] = {
  {"rank", true},         {"gamma", false}, {"gamma-bias", false}, {"lambda", false},
  {"lambda-bias", false}, {"passes", true}, {"batch-size", true}};
constexpr param_info implicit_params_info[] = {{"rank", true}, {"lambda", false}, {"alpha", false}};

std::span<const param_info> known(tune_mode m) {
  if (m == tune_mode::batch)
    return batch_params;
  if (m == tune_mode::implicit)
    return implicit_params_info;
  return stream_params_info;
}

/// How the command line spells the mode: "--mode batch", "--implicit".
std::string mode_option(tune_mode m) {
  return m == tune_mode::implicit ? std::string("--implicit") : "--mode " + std::string(to_string(m));
}

/// `x` to three significant digits, through its decimal text so that 0.0123 is the
/// double nearest to 0.0123 (and prints, and reads back, as that).
double round3(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return std::strtod(buf, nullptr);
}

double finish(const param_spec& p, double v) {
  return p.integer ? static_cast<double>(std::llround(v)) : round3(v);
}

/// The shortest text that reads back as v ("50", "0.0123", "1e-05").
std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}

result<double> parse_number(const std::string& name, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
    return invalid(name + ": '" + text + "' is not a number");
  return v;
}

/// A uniform draw in [0, 1) from 53 bits (portable, unlike std::uniform_real_distribution).
double unit(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }

/// Whole-number parameters (rank, passes, batch size) must lie in [1, limit]: a rank of
/// a billion would not fit in memory, and casting huge doubles to integers is undefined.
result<void> check_whole(const param_spec& p) {
  if (!p.integer)
    return {};
  const double limit = p.name == "rank" ? 1000.0 : 1e8;
  auto bad = [&](double v) { return !(v >= 1.0 && v <= limit); };
  bool out = p.values.empty() ? bad(p.lo) || bad(p.hi)
                              : std::any_of(p.values.begin(), p.values.end(), bad);
  if (out)
    return invalid(p.name + " must lie in 1.." + number(limit) + ", got '" + to_string(p) + "'");
  return {};
}

}  // namespace

const char* to_string(tune_mode m) noexcept {
  switch (m) {
    case tune_mode::batch: return "batch";
    case tune_mode::stream: return "stream";
    case tune_mode::implicit: return "implicit";
  }
  return "?";
}

result<param_spec> parse_param(const std::string& text, tune_mode mode) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return invalid("--param '" + text + "': expected NAME=1,2,3 or NAME=LO..HI[:log]");
  param_spec p;
  p.name = text.substr(0, eq);
  std::string spec = text.substr(eq + 1);
  const param_info* info = nullptr;
  for (const auto& k : known(mode))
    if (p.name == k.name)
      info = &k;
  if (!info) {
    std::string names;
    for (const auto& k : known(mode)) {
      if (!names.empty())
        names += ", ";
      names += k.name;
    }
    return invalid("unknown parameter '" + p.name + "' for tune " + mode_option(mode)
                   + "; one of " + names);
  }
  p.integer = info->integer;
  if (auto dots = spec.find(".."); dots != std::string::npos) {
    std::string hi = spec.substr(dots + 2);
    if (auto colon = hi.find(':'); colon != std::string::npos) {
      if (hi.substr(colon + 1) != "log")
        return invalid(p.name + ": a range ends in ':log' or nothing, got '" + spec + "'");
      p.log = true;
      hi.erase(colon);
    }
    auto lo_v = parse_number(p.name, spec.substr(0, dots));
    auto hi_v = parse_number(p.name, hi);
    if (!lo_v)
      return lo_v.err();
    if (!hi_v)
      return hi_v.err();
    p.lo = *lo_v;
    p.hi = *hi_v;
    if (!(p.lo < p.hi))
      return invalid(p.name + ": a range needs LO < HI, got '" + spec + "'");
    if (p.log && !(p.lo > 0))
      return invalid(p.name + ": a log range needs 0 < LO, got '" + spec + "'");
    if (auto ok = check_whole(p); !ok)
      return ok.err();
    return p;
  }
  std::size_t at = 0;
  while (at <= spec.size()) {
    auto comma = std::min(spec.find(',', at), spec.size());
    auto v = parse_number(p.name, spec.substr(at, comma - at));
    if (!v)
      return v.err();
    p.values.push_back(p.integer ? static_cast<double>(std::llround(*v)) : *v);
    at = comma + 1;
  }
  if (auto ok = check_whole(p); !ok)
    return ok.err();
  return p;
}

std::string to_string(const param_spec& p) {
  std::string out = p.name + "=";
  if (p.values.empty())
    return out + number(p.lo) + ".." + number(p.hi) + (p.log ? ":log" : "");
  for (std::size_t k = 0; k < p.values.size(); ++k) {
    if (k)
      out += ',';
    out += number(p.values[k]);
  }
  return out;
}

search_space default_space(tune_mode mode) {
  search_space s;
  s.mode = mode;
  auto add = [&](const char* text) { s.params.push_back(parse_param(text, mode).value()); };
  if (mode == tune_mode::batch) {
    for (const char* t : {"rank=10,30,50", "lambda=0.65..2.6:log", "lambda-bias=0.35..1.4:log",
                          "lambda-exponent=0.3..0.7"})
      add(t);
  } else if (mode == tune_mode::implicit) {
    for (const char* t : {"rank=16,32,64", "lambda=12.5..200:log", "alpha=0.75..12:log"})
      add(t);
  } else {
    for (const char* t : {"rank=10,20,40", "gamma=0.01..0.09:log", "gamma-bias=0.002..0.0125:log",
                          "lambda=0.01..0.16:log", "passes=3,6,12", "batch-size=500,1000,2000"})
      add(t);
  }
  return s;
}

void set_param(search_space& space, param_spec p) {
  for (auto& q : space.params)
    if (q.name == p.name) {
      q = std::move(p);
      return;
    }
  space.params.push_back(std::move(p));
}

std::vector<double> grid_values(const param_spec& p, int points) {
  if (!p.values.empty())
    return p.values;
  points = std::max(points, 2);
  std::vector<double> out;
  for (int k = 0; k < points; ++k) {
    double t = static_cast<double>(k) / (points - 1);
    double v = p.log ? std::exp(std::log(p.lo) + t * (std::log(p.hi) - std::log(p.lo)))
                     : p.lo + t * (p.hi - p.lo);
    v = finish(p, v);
    if (out.empty() || out.back() != v)
      out.push_back(v);
  }
  return out;
}

std::size_t grid_size(const search_space& space, int points) {
  const std::size_t limit = std::size_t{1} << 50;  // saturates instead of wrapping around
  std::size_t n = 1;
  for (const auto& p : space.params) {
    auto k = std::max<std::size_t>(1, grid_values(p, points).size());
    n = n > limit / k ? limit : n * k;
  }
  return n;
}

std::vector<candidate> grid_candidates(const search_space& space, int points) {
  std::vector<std::vector<double>> axes;
  for (const auto& p : space.params)
    axes.push_back(grid_values(p, points));
  std::vector<candidate> out(grid_size(space, points));
  for (std::size_t c = 0; c < out.size(); ++c) {
    std::size_t rest = c;
    out[c].values.resize(axes.size());
    for (std::size_t a = axes.size(); a-- > 0;) {
      out[c].values[a] = axes[a][rest % axes[a].size()];
      rest /= axes[a].size();
    }
  }
  return out;
}

std::vector<candidate> random_candidates(const search_space& space, std::size_t n,
                                         std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<candidate> out(n);
  for (auto& c : out)
    for (const auto& p : space.params) {
      double v;
      if (!p.values.empty()) {
        v = p.values[static_cast<std::size_t>(gen() % p.values.size())];
      } else {
        double t = unit(gen);
        v = p.log ? std::exp(std::log(p.lo) + t * (std::log(p.hi) - std::log(p.lo)))
                  : p.lo + t * (p.hi - p.lo);
        v = finish(p, v);
      }
      c.values.push_back(v);
    }
  return out;
}

namespace {

double* field(als_params& a, const std::string& name) {
  if (name == "lambda") return &a.lambda;
  if (name == "lambda-bias") return &a.lambda_bias;
  if (name == "lambda-exponent") return &a.lambda_exponent;
  return nullptr;
}

double* field(stream_settings& s, const std::string& name) {
  if (name == "gamma") return &s.params.gamma;
  if (name == "gamma-bias") return &s.params.gamma_bias;
  if (name == "lambda") return &s.params.lambda;
  if (name == "lambda-bias") return &s.params.lambda_bias;
  return nullptr;
}

double* field(implicit_params& p, const std::string& name) {
  if (name == "lambda") return &p.lambda;
  if (name == "alpha") return &p.alpha;
  return nullptr;
}

double get(const implicit_params& p, const std::string& name) {
  if (name == "rank") return p.rank;
  auto copy = p;
  return *field(copy, name);
}

double get(const als_params& a, const std::string& name) {
  if (name == "rank") return a.rank;
  auto copy = a;
  return *field(copy, name);
}

double get(const stream_settings& s, const std::string& name) {
  if (name == "rank") return s.params.rank;
  if (name == "passes") return s.params.passes;
  if (name == "batch-size") return static_cast<double>(s.batch_size);
  auto copy = s;
  return *field(copy, name);
}

/// The candidate of `base`'s own values, for any parameter set with a get().
template <class Params>
candidate defaults_of(const search_space& space, const Params& base) {
  candidate c{{}, true};
  for (const auto& p : space.params)
    c.values.push_back(get(base, p.name));
  return c;
}

/// `c`'s values into `base`: rank as an integer, the rest through field() (batch ALS and
/// implicit ALS; a stream has more integers).
template <class Params>
Params apply_fields(const search_space& space, const candidate& c, Params base) {
  for (std::size_t k = 0; k < space.params.size() && k < c.values.size(); ++k) {
    const auto& name = space.params[k].name;
    if (name == "rank")
      base.rank = static_cast<int>(c.values[k]);
    else if (auto* f = field(base, name))
      *f = c.values[k];
  }
  return base;
}

}  // namespace

candidate default_candidate(const search_space& space, const als_params& base) {
  return defaults_of(space, base);
}

candidate default_candidate(const search_space& space, const stream_settings& base) {
  return defaults_of(space, base);
}

candidate default_candidate(const search_space& space, const implicit_params& base) {
  return defaults_of(space, base);
}

implicit_params apply(const search_space& space, const candidate& c, implicit_params base) {
  return apply_fields(space, c, std::move(base));
}

als_params apply(const search_space& space, const candidate& c, als_params base) {
  return apply_fields(space, c, std::move(base));
}

stream_settings apply(const search_space& space, const candidate& c, stream_settings base) {
  for (std::size_t k = 0; k < space.params.size() && k < c.values.size(); ++k) {
    const auto& name = space.params[k].name;
    if (name == "rank")
      base.params.rank = static_cast<int>(c.values[k]);
    else if (name == "passes")
      base.params.passes = static_cast<int>(c.values[k]);
    else if (name == "batch-size")
      base.batch_size = static_cast<std::size_t>(std::max(0.0, c.values[k]));
    else if (auto* f = field(base, name))
      *f = c.values[k];
  }
  return base;
}

std::string describe(const search_space& space, const candidate& c) {
  std::string out;
  for (std::size_t k = 0; k < space.params.size() && k < c.values.size(); ++k) {
    if (k)
      out += ' ';
    out += space.params[k].name;
    out += '=';
    out += number(c.values[k]);
  }
  return out;
}

}  // namespace recflow
