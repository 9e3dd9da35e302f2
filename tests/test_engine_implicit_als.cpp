// Batch implicit ALS on the actor ALS blocks: the model equals train_implicit_als's bit
// for bit for 1..4 blocks per side, both solvers, recency and BM25 weighting, empty
// blocks; the per-sweep objective matches the reference's; what the blocks refuse.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "recflow/actors/als_block.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/graph/partitioner.hpp"
#include "recflow/model/exact_gram.hpp"
#include "recflow/model/implicit_als.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// MovieLens 100K's u1.base as events: every rating an event, its stars the weight, its
/// timestamp kept (so recency weighting orders each user's events).
const rating_table& u1_events() {
  static const rating_table t = read_ratings(test::data_dir() + "/ml-100k/u1.base").value();
  return t;
}

implicit_params small_params() {
  implicit_params p;
  p.rank = 8;
  p.iterations = 3;
  return p;
}

}  // namespace

TEST_CASE("implicit ALS on the actor blocks equals train_implicit_als bit for bit",
          "[engine][equivalence][implicit][als]") {
  auto p = small_params();
  p.solver = GENERATE(implicit_solver::cholesky, implicit_solver::cg);
  auto parts = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{3});
  INFO((p.solver == implicit_solver::cg ? "cg" : "cholesky") << ", " << parts << " block(s) per side");
  std::vector<double> ref_objective;
  auto ref = train_implicit_als(u1_events(), p, [&](int, double v) { ref_objective.push_back(v); });
  REQUIRE(ref);
  als_graph_options o;
  o.partitions = parts;
  std::vector<als_sweep_metrics> sweeps;
  auto got = train_implicit_als_graph(u1_events(), p, o,
                                      [&](const als_sweep_metrics& m) { sweeps.push_back(m); });
  INFO((got ? std::string() : got.err().message));
  REQUIRE(got);
  CHECK(*got == *ref);
  CHECK(got->rated().offsets == ref->rated().offsets);
  CHECK(got->rated().items == ref->rated().items);
  REQUIRE(sweeps.size() == ref_objective.size());
  for (std::size_t k = 0; k < sweeps.size(); ++k) {
    CHECK(sweeps[k].iteration == int(k) + 1);
    CHECK(sweeps[k].train_rmse == 0.0);
    // The same objective, counted by item on the blocks and by user in the reference.
    CHECK(sweeps[k].objective == Approx(ref_objective[k]).epsilon(1e-9));
  }
  CHECK(sweeps.back().objective < sweeps.front().objective);
  // Every block hears from every block of the other side, rows or none.
  CHECK(sweeps[0].messages == 2 * parts * parts);
}

TEST_CASE("implicit ALS on the blocks: weighting, recency off, regularisation by count, "
          "modulo blocks",
          "[engine][equivalence][implicit][als]") {
  auto p = small_params();
  p.weighting = event_weighting::bm25;
  p.recency_boost = 0.0;
  p.lambda_exponent = 1.0;
  p.lambda = 0.5;
  p.confidence = confidence_form::log;
  als_graph_options o;
  o.partitions = 4;
  o.user_partitioner = modulo_partitioner{4};
  o.item_partitioner = modulo_partitioner{4};
  auto got = train_implicit_als_graph(u1_events(), p, o);
  REQUIRE(got);
  CHECK(*got == train_implicit_als(u1_events(), p).value());
}

TEST_CASE("implicit ALS on the blocks handles blocks that own nothing",
          "[engine][equivalence][implicit][als]") {
  rating_table t;
  t.scale = {0.0, 1.0};
  auto add = [&](std::int64_t u, std::int64_t i, float w) {
    t.ratings.push_back({t.users.insert(u), t.items.insert(i), w, 0});
  };
  add(1, 10, 1.0f);
  add(1, 11, 2.0f);
  add(2, 10, 1.0f);
  add(3, 12, 3.0f);
  add(3, 13, 1.0f);
  add(2, 13, 1.0f);
  auto p = small_params();
  p.rank = 3;
  als_graph_options o;
  o.partitions = 8;
  o.user_partitioner = modulo_partitioner{8};
  o.item_partitioner = modulo_partitioner{8};
  std::vector<double> objective;
  auto got = train_implicit_als_graph(t, p, o, [&](const als_sweep_metrics& m) {
    objective.push_back(m.objective);
  });
  REQUIRE(got);
  CHECK(*got == train_implicit_als(t, p).value());
  CHECK(objective.size() == 3);
}

TEST_CASE("implicit ALS on the blocks refuses what it cannot train, with the reason",
          "[engine][implicit][als]") {
  auto p = small_params();
  SECTION("missing pairs weighted by popularity") {
    p.missing_exponent = 0.5;
    auto r = train_implicit_als_graph(u1_events(), p);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.err().message, Catch::Contains("missing exponent must be 0"));
  }
  SECTION("bad parameters") {
    p.alpha = -1.0;
    auto r = train_implicit_als_graph(u1_events(), p);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.err().message, Catch::StartsWith("alpha must be non-negative and finite"));
  }
  SECTION("no partitions") {
    als_graph_options o;
    o.partitions = 0;
    auto r = train_implicit_als_graph(u1_events(), p, o);
    REQUIRE_FALSE(r);
    CHECK(r.err().message == "partitions must be positive, got 0");
  }
}

TEST_CASE("ALS wire: implicit rows carry a Gram matrix, checked against the block",
          "[actors][wire][implicit][als]") {
  auto p = small_params();
  als_graph_options o;
  o.partitions = 3;
  auto setup = prepare_implicit_als_graph(u1_events(), p, o).value();
  const auto& users = setup.plan->users[1];
  exact_gram g(p.rank);
  std::vector<float> row(std::size_t(p.rank), 0.25f);
  g.add(row);
  const auto n = users.in_offsets[1] - users.in_offsets[0];
  als_rows good{.iteration = 1, .side = side::item, .from = 0, .to = 1,
                .bias = std::vector<double>(n, 0.0),
                .factors = std::vector<float>(std::size_t(n) * 8, 0.5f), .gram = g.words()};
  auto decoded = wire::decode_als_rows(wire::encode_als_rows(good, 8));
  REQUIRE(decoded);
  CHECK(decoded->gram == good.gram);
  CHECK(wire::check_als_rows(users, 8, *decoded, true));
  // Explicit blocks take no Gram matrix, implicit ones need one of the right size.
  auto explicit_check = wire::check_als_rows(users, 8, *decoded, false);
  REQUIRE_FALSE(explicit_check);
  CHECK_THAT(explicit_check.err().message, Catch::Contains("a Gram matrix from block 0"));
  auto without = good;
  without.gram.clear();
  auto missing = wire::check_als_rows(users, 8, without, true);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.err().message, Catch::Contains("no Gram matrix of rank 8"));
  auto odd = good;
  odd.gram.pop_back();
  auto refused = wire::decode_als_rows(wire::encode_als_rows(odd, 8));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("has 72 words, got 71"));
  auto negative = good;
  negative.regularisation = -1.0;
  CHECK_FALSE(wire::decode_als_rows(wire::encode_als_rows(negative, 8)));
  // In implicit ALS a block that needs no rows from a sender still hears from it.
  for (std::uint32_t t = 0; t < 3; ++t) {
    const auto k = users.in_offsets[t + 1] - users.in_offsets[t];
    als_rows none{.iteration = 1, .side = side::item, .from = t, .to = 1,
                  .bias = std::vector<double>(k, 0.0),
                  .factors = std::vector<float>(std::size_t(k) * 8, 0.0f), .gram = g.words()};
    CHECK(wire::check_als_rows(users, 8, none, true));
  }
}
