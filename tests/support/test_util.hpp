/// Shared test helpers: where the data sets are, and seeded planted-factor rating sets.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "recflow/model/model.hpp"
#include "recflow/model/random.hpp"
#include "recflow/model/ratings.hpp"

namespace recflow::test {

/// Directory of the data sets: $RECFLOW_DATA, else the CMake default RECFLOW_DEFAULT_DATA.
inline std::string data_dir() {
  if (const char* e = std::getenv("RECFLOW_DATA"))
    return e;
#ifdef RECFLOW_DEFAULT_DATA
  return RECFLOW_DEFAULT_DATA;
#else
  return "../shared/data";
#endif
}

/// What a planted data set looks like. Ratings are
/// mu + b_u + b_i + U_u . P_i + N(0, noise^2), with each (user, item) pair present
/// independently with probability `density`.
struct planted_params {
  std::uint32_t users = 300;
  std::uint32_t items = 200;
  int rank = 3;
  double density = 0.3;
  double noise = 0.1;          ///< stddev of the rating noise
  std::uint64_t seed = 1;
  rating_scale scale{1.0, 5.0};
  double mu = 3.0;             ///< planted global mean
  double bias_stddev = 0.3;    ///< stddev of the planted user and item biases
  double signal_stddev = 0.6;  ///< stddev of the interaction term U_u . P_i
  /// Clamp noisy ratings into `scale` (so they look like real ratings). The clean
  /// values are never clamped; with the defaults about 1% of ratings are affected.
  bool clamp = true;
  /// Insert every user and item id into the table's maps even without ratings.
  bool all_ids = true;
};

/// A planted data set: the ratings, the model that generated them, and each rating's
/// noise-free value.
struct planted_data {
  rating_table table;          ///< user ids 1..users, item ids 1..items (external)
  factor_model truth;          ///< the planted model in the table's id space (counts 1)
  std::vector<double> clean;   ///< noise-free value of table.ratings[k] (unclamped)
};

/// Generates a planted-factor rating set; same parameters, same data, on every platform.
inline planted_data make_planted(const planted_params& p) {
  splitmix64 rng(p.seed);
  // Each factor entry N(0, s^2) makes U.P have variance rank * s^4.
  double s = std::pow(p.signal_stddev * p.signal_stddev / std::max(1, p.rank), 0.25);
  factor_model::parts parts;
  parts.rank = p.rank;
  parts.scale = p.scale;
  parts.mu = p.mu;
  parts.mu_count = 1;
  for (std::uint32_t u = 0; u < p.users; ++u) {
    parts.users.insert(std::int64_t(u) + 1);
    parts.user_bias.push_back(rng.normal(p.bias_stddev));
    for (int k = 0; k < p.rank; ++k)
      parts.U.push_back(rng.normal(s));
  }
  for (std::uint32_t i = 0; i < p.items; ++i) {
    parts.items.insert(std::int64_t(i) + 1);
    parts.item_bias.push_back(rng.normal(p.bias_stddev));
    for (int k = 0; k < p.rank; ++k)
      parts.P.push_back(rng.normal(s));
  }
  parts.user_count.assign(p.users, 1);
  parts.item_count.assign(p.items, 1);

  planted_data out;
  out.table.scale = p.scale;
  if (p.all_ids) {
    out.table.users = parts.users;
    out.table.items = parts.items;
  }
  for (std::uint32_t u = 0; u < p.users; ++u) {
    for (std::uint32_t i = 0; i < p.items; ++i) {
      if (rng.uniform() >= p.density)
        continue;
      double v = p.mu + parts.user_bias[u] + parts.item_bias[i];
      for (int k = 0; k < p.rank; ++k)
        v += parts.U[std::size_t(u) * p.rank + k] * parts.P[std::size_t(i) * p.rank + k];
      double noisy = v + rng.normal(p.noise);
      if (p.clamp)
        noisy = p.scale.clamp(noisy);
      auto tu = out.table.users.insert(std::int64_t(u) + 1);
      auto ti = out.table.items.insert(std::int64_t(i) + 1);
      out.table.ratings.push_back({tu, ti, static_cast<float>(noisy), 0});
      out.clean.push_back(v);
    }
  }
  // The truth model uses ids in order 1..n; with all_ids the table agrees, otherwise
  // evaluate() maps by external id anyway.
  out.truth = factor_model::from_parts(std::move(parts)).value();
  return out;
}

}  // namespace recflow::test
