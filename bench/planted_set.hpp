// The synthetic planted rating set the ALS benchmarks share (bench_als, bench_als_engine,
// bench_implicit): 30,000 users x 5,000 items at density 0.007, about 1.05M ratings from
// rank-10 planted factors with noise 0.5, seed 7; the same set on every platform.
#pragma once

#include "test_util.hpp"  // tests/support: make_planted

namespace recflow::bench {

inline test::planted_data planted_set() {
  test::planted_params sp;
  sp.users = 30000;
  sp.items = 5000;
  sp.rank = 10;
  sp.density = 0.007;
  sp.noise = 0.5;
  sp.seed = 7;
  return test::make_planted(sp);
}

}  // namespace recflow::bench
