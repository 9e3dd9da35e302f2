// Batch ALS across processes below the network: block layouts and rows as byte blobs
// (graph/als_wire.hpp), every malformed blob rejected, and a block built from a decoded
// layout that takes only the rows that fit it and its sweep.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "recflow/actors/als_block.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/graph/als_wire.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

struct fixture {
  rating_table train;
  als_params p{.rank = 4, .iterations = 3};
  als_graph_setup setup;

  explicit fixture(std::size_t parts = 3)
    : train(test::make_planted({.users = 60, .items = 40, .rank = 3, .density = 0.25}).table) {
    setup = prepare_als_graph(train, p, {.partitions = parts}).value();
  }
  wire::bytes layout_blob(side s, std::uint32_t b) const {
    const auto& l = (s == side::user ? setup.plan->users : setup.plan->items)[b];
    return wire::encode_als_layout(l, *setup.initial);
  }
};

void require_rejected(const result<wire::als_block_init>& r, const std::string& what) {
  REQUIRE_FALSE(r);
  INFO(r.err().message);
  CHECK(r.err().code == errc::corrupt);
  CHECK_THAT(r.err().message, Catch::StartsWith("malformed ALS block layout frame: "));
  CHECK_THAT(r.err().message, Catch::Contains(what));
}

}  // namespace

TEST_CASE("ALS wire: every block's layout and initial rows round-trip exactly", "[actors][wire][als]") {
  fixture f;
  for (auto s : {side::user, side::item})
    for (std::uint32_t b = 0; b < 3; ++b) {
      const auto& l = (s == side::user ? f.setup.plan->users : f.setup.plan->items)[b];
      auto got = wire::decode_als_layout(f.layout_blob(s, b));
      INFO((got ? std::string() : got.err().message));
      REQUIRE(got);
      CHECK(got->layout.owner == s);
      CHECK(got->layout.block == b);
      CHECK(got->other_blocks == 3);
      CHECK(got->rank == 4);
      CHECK(got->mu == f.setup.initial->mu());
      CHECK(got->layout.entities == l.entities);
      CHECK(got->layout.in_offsets == l.in_offsets);
      CHECK(got->layout.ratings.offsets == l.ratings.offsets);
      CHECK(got->layout.ratings.cols == l.ratings.cols);
      CHECK(got->layout.ratings.values == l.ratings.values);
      CHECK(got->layout.out_rows == l.out_rows);
      const auto& table = s == side::user ? f.setup.initial->U() : f.setup.initial->P();
      const auto& bias = s == side::user ? f.setup.initial->user_bias() : f.setup.initial->item_bias();
      REQUIRE(got->bias.size() == l.entities.size());
      for (std::size_t k = 0; k < l.entities.size(); ++k) {
        CHECK(got->bias[k] == bias[l.entities[k]]);
        for (int c = 0; c < 4; ++c)
          CHECK(got->factors[k * 4 + std::size_t(c)] == table.row(l.entities[k])[c]);
      }
    }
}

TEST_CASE("ALS wire: truncated, padded and hostile layouts are rejected with the reason",
          "[actors][wire][als]") {
  fixture f;
  auto blob = f.layout_blob(side::user, 1);
  for (std::size_t n = 0; n < blob.size(); ++n)
    REQUIRE_FALSE(wire::decode_als_layout(std::span(blob.data(), n)));
  auto padded = blob;
  padded.push_back(0);
  REQUIRE_FALSE(wire::decode_als_layout(padded));
  require_rejected(wire::decode_als_layout(wire::encode_als_rows({.iteration = 1}, 4)),
                   "kind 7, expected 6");

  // Layouts the driver would never send, encoded faithfully: the decoder must refuse them.
  auto hostile = [&](auto change, const std::string& what) {
    auto l = f.setup.plan->users[1];
    auto initial = *f.setup.initial;
    change(l, initial);
    require_rejected(wire::decode_als_layout(wire::encode_als_layout(l, initial)), what);
  };
  hostile([](als_block_layout& l, factor_model&) { l.ratings.cols[0] = l.in_offsets.back(); },
          "rating column");
  hostile([](als_block_layout& l, factor_model&) { std::swap(l.entities[0], l.entities[1]); },
          "entities not strictly increasing");
  hostile([](als_block_layout& l, factor_model&) { l.out_rows[0].push_back(1u << 30); },
          "out rows for block 0");
  hostile([](als_block_layout& l, factor_model&) { l.in_offsets[1] = l.in_offsets[2] + 1; },
          "in-block offsets decrease");
  hostile([](als_block_layout& l, factor_model&) { l.ratings.offsets[1] = l.ratings.offsets[2] + 1; },
          "rating offsets decrease");
  hostile([](als_block_layout& l, factor_model&) { l.ratings.values[3] = std::nanf(""); },
          "rating value is not finite");
  hostile([](als_block_layout& l, factor_model&) { l.block = 7; }, "block 7 out of range");
  hostile([](als_block_layout& l, factor_model& m) {
    m.U().row(l.entities[0])[0] = std::numeric_limits<double>::infinity();
  }, "initial row is not finite");
  // A count in the header that promises more than follows.
  auto lying = blob;
  lying[16 + 1 + 12 + 8] = '\x7f';  // the entity count's low byte
  REQUIRE_FALSE(wire::decode_als_layout(lying));
}

TEST_CASE("ALS wire: rows frames are checked against the receiving block's layout",
          "[actors][wire][als]") {
  fixture f;
  auto user_block = f.setup.plan->users[1];
  auto from = std::uint32_t(0);
  auto n = user_block.in_offsets[1] - user_block.in_offsets[0];
  REQUIRE(n > 0);
  als_rows good{.iteration = 1, .side = side::item, .from = from, .to = 1,
                .bias = std::vector<double>(n, 0.5), .factors = std::vector<float>(n * 4, 0.25f)};
  auto decoded = wire::decode_als_rows(wire::encode_als_rows(good, 4));
  REQUIRE(decoded);
  CHECK(decoded->bias == good.bias);
  CHECK(decoded->factors == good.factors);
  CHECK(wire::check_als_rows(user_block, 4, *decoded));
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    auto r = good;
    r.factors[1] = static_cast<float>(bad);
    auto refused = wire::decode_als_rows(wire::encode_als_rows(r, 4));
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.err().message, Catch::Contains("a row holds NaN or infinity"));
    r = good;
    r.bias[0] = bad;
    CHECK_FALSE(wire::decode_als_rows(wire::encode_als_rows(r, 4)));
  }
  auto blob = wire::encode_als_rows(good, 4);
  for (std::size_t k = 0; k < blob.size(); ++k)
    REQUIRE_FALSE(wire::decode_als_rows(std::span(blob.data(), k)));
  auto check = [&](als_rows r, std::uint32_t rank, const std::string& what) {
    auto ok = wire::check_als_rows(user_block, rank, r);
    REQUIRE_FALSE(ok);
    INFO(ok.err().message);
    CHECK_THAT(ok.err().message, Catch::Contains(what));
  };
  auto r = good;
  r.to = 2;
  check(r, 4, "addressed to block 2");
  r = good;
  r.side = side::user;
  check(r, 4, "for a block of the same side");
  r = good;
  r.from = 3;
  check(r, 4, "from block 3, out of range");
  r = good;
  r.bias.pop_back();
  r.factors.resize(r.factors.size() - 4);
  check(r, 4, "expected " + std::to_string(n));
  check(good, 5, "of rank 5");
}

TEST_CASE("ALS block from a decoded layout: accept() takes each sender once per sweep, in order",
          "[actors][als]") {
  fixture f(2);
  auto init = wire::decode_als_layout(f.layout_blob(side::user, 0)).value();
  auto layout = std::make_shared<const als_block_layout>(init.layout);
  als_block_state remote(layout, f.p, init.mu, init.bias, init.factors);
  als_block_state local(f.setup.plan, side::user, 0, f.p, *f.setup.initial);
  REQUIRE(remote.layout().expected_messages() == 2);
  // The item blocks' rows of sweep 1, from states of the same plan.
  std::vector<als_rows> rows;
  for (std::uint32_t t = 0; t < 2; ++t) {
    als_block_state item(f.setup.plan, side::item, t, f.p, *f.setup.initial);
    for (auto& m : item.ship(1))
      if (m.to == 0)
        rows.push_back(std::move(m));
  }
  REQUIRE(rows.size() == 2);
  auto stale = rows[0];
  stale.iteration = 2;
  CHECK_FALSE(remote.accept(stale));  // sweep 2 before sweep 1
  REQUIRE(remote.accept(rows[0]).value() == false);
  auto twice = remote.accept(rows[0]);
  REQUIRE_FALSE(twice);
  CHECK_THAT(twice.err().message, Catch::Contains("from block 0 twice in sweep 1"));
  REQUIRE(remote.accept(rows[1]).value() == true);
  auto late = remote.accept(rows[1]);
  REQUIRE_FALSE(late);
  CHECK_THAT(late.err().message, Catch::Contains("already solved"));
  local.take(rows[0]);
  local.take(rows[1]);
  remote.solve();
  local.solve();
  CHECK(remote.factors().data() == local.factors().data());
  CHECK(std::vector<double>(remote.bias().begin(), remote.bias().end())
        == std::vector<double>(local.bias().begin(), local.bias().end()));
  auto third = rows[0];
  third.iteration = 3;
  CHECK_FALSE(remote.accept(third));  // sweeps do not skip
  rows[0].iteration = 2;
  CHECK(remote.accept(rows[0]).value() == false);
}
