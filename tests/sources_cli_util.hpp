/// What the CLI tests on live sources share (test_sources_cli.cpp and
/// test_sources_redis_cli.cpp): a split of ml-latest-small written as CSV, the JSON line of
/// a run, models compared by external id; the CLI as a child process that can be killed at
/// a chosen moment is child_process.hpp's.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "cli_test_util.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/split.hpp"
#include "test_util.hpp"

namespace recflow::test {

/// ml-latest-small split 80/20 (seed 42), the training part shuffled (seed 42), written
/// as CSV files: the stream order is the file order, for the file source and for Redis.
struct split_files {
  std::string train, test;
  std::size_t train_size = 0;
};

inline split_files write_split(const scratch_dir& dir) {
  auto table = read_ratings(recflow::test::data_dir() + "/ml-latest-small/ratings.csv");
  REQUIRE(table.has_value());
  auto parts = random_split(table->ratings, 0.8, 42);
  order_ratings(parts.train, stream_order::random, 42);
  auto write = [&](const std::string& path, const std::vector<rating>& rs) {
    std::ofstream f(path);
    for (const auto& r : rs) {
      char v[32];
      auto [end, ec] = std::to_chars(v, v + sizeof v, r.value);
      (void)ec;
      f << table->users.external(r.user) << ',' << table->items.external(r.item) << ','
        << std::string_view(v, std::size_t(end - v)) << ',' << r.timestamp << '\n';
    }
  };
  split_files s{dir.file("train.csv"), dir.file("test.csv"), parts.train.size()};
  write(s.train, parts.train);
  write(s.test, parts.test);
  return s;
}

inline nlohmann::json json_of(const recflow::test::run_result& r) {
  INFO(r.out);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.last_line);
}

/// Same users, items, mean and counts, and parameters equal within 1e-9 relative,
/// matched by external id.
inline void require_same_model(const factor_model& a, const factor_model& b) {
  REQUIRE(a.n_users() == b.n_users());
  REQUIRE(a.n_items() == b.n_items());
  CHECK(a.mu_count() == b.mu_count());
  CHECK(a.mu() == Approx(b.mu()).epsilon(1e-12));
  double worst = 0.0;
  auto rel = [&](double x, double y) {
    worst = std::max(worst, std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-12}));
  };
  for (index_t u = 0; u < a.n_users(); ++u) {
    auto v = b.users().find(a.users().external(u));
    REQUIRE(v != id_map::npos);
    rel(a.user_bias()[u], b.user_bias()[v]);
    for (int k = 0; k < a.rank(); ++k)
      rel(a.U().row(u)[k], b.U().row(v)[k]);
  }
  for (index_t i = 0; i < a.n_items(); ++i) {
    auto j = b.items().find(a.items().external(i));
    REQUIRE(j != id_map::npos);
    rel(a.item_bias()[i], b.item_bias()[j]);
    for (int k = 0; k < a.rank(); ++k)
      rel(a.P().row(i)[k], b.P().row(j)[k]);
  }
  INFO("largest relative difference " << worst);
  CHECK(worst <= 1e-9);
}

}  // namespace recflow::test
