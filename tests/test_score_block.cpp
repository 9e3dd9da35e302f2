// The single-precision scoring product and the cut skip behind top-N scans
// (model/score_block.hpp), against plain loops: within the rounding bound the scans allow
// for, at every shape the panels and query groups leave a remainder in.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "recflow/model/score_block.hpp"

using namespace recflow;

TEST_CASE("score_block: every query against every item, within the float rounding bound",
          "[model][top_n]") {
  auto rank = GENERATE(std::size_t(1), std::size_t(7), std::size_t(16), std::size_t(50),
                       std::size_t(100));
  auto items = GENERATE(std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17),
                        std::size_t(100));
  auto queries = GENERATE(std::size_t(1), std::size_t(3), std::size_t(4), std::size_t(5),
                          std::size_t(64));
  INFO("rank " << rank << ", items " << items << ", queries " << queries);
  std::mt19937 rng(unsigned(rank * 10007 + items * 101 + queries));
  std::normal_distribution<float> draw(0.0f, 1.0f);
  std::vector<float> P(items * rank), x(queries * rank);
  for (auto& v : P)
    v = draw(rng);
  for (auto& v : x)
    v = draw(rng);
  const std::size_t stride = items + 3;  // rows of dots longer than the item count
  std::vector<float> dots(queries * stride, -7.0f);
  detail::score_block(P, rank, x, queries, dots.data(), stride);
  for (std::size_t q = 0; q < queries; ++q) {
    double xn = 0.0;
    for (std::size_t k = 0; k < rank; ++k)
      xn += double(x[q * rank + k]) * x[q * rank + k];
    for (std::size_t i = 0; i < items; ++i) {
      double exact = 0.0, pn = 0.0;
      for (std::size_t k = 0; k < rank; ++k) {
        exact += double(x[q * rank + k]) * P[i * rank + k];
        pn += double(P[i * rank + k]) * P[i * rank + k];
      }
      const double bound = double(rank + 4) * 0x1p-24 * std::sqrt(xn * pn);
      INFO("query " << q << ", item " << i);
      REQUIRE(std::abs(double(dots[q * stride + i]) - exact) <= bound);
    }
    for (std::size_t i = items; i < stride; ++i)
      REQUIRE(dots[q * stride + i] == -7.0f);  // nothing written past the items
  }
}

TEST_CASE("first_at_least: the first item whose score reaches the cut, as a plain loop finds it",
          "[model][top_n]") {
  std::mt19937 rng(7);
  std::normal_distribution<double> draw(0.0, 1.0);
  const double inf = std::numeric_limits<double>::infinity();
  auto n = GENERATE(std::size_t(0), std::size_t(5), std::size_t(16), std::size_t(33),
                    std::size_t(1000));
  std::vector<double> bias(n);
  std::vector<float> dots(n);
  for (std::size_t i = 0; i < n; ++i) {
    bias[i] = i % 13 == 5 ? -inf : draw(rng);  // some unknown items
    dots[i] = float(draw(rng));
  }
  auto plain = [&](std::size_t from, double cut) {
    for (auto i = from; i < n; ++i)
      if (bias[i] + double(dots[i]) >= cut)
        return i;
    return n;
  };
  for (double cut : {std::numeric_limits<double>::lowest(), -1.0, 0.0, 1.5, 3.0, 4.5, 10.0}) {
    for (std::size_t from = 0; from <= n; from += (n > 40 ? 37 : 1)) {
      INFO("cut " << cut << ", from " << from);
      REQUIRE(detail::first_at_least(bias.data(), dots.data(), from, n, cut) == plain(from, cut));
    }
  }
  if (n >= 33) {
    // An exact tie reaches the cut, a zero score of either sign reaches a zero cut, and
    // unknown items reach none, not even the lowest cut.
    bias.assign(n, -100.0);
    dots.assign(n, 0.0f);
    bias[20] = 2.5;
    dots[20] = 0.5f;
    CHECK(detail::first_at_least(bias.data(), dots.data(), 0, n, 3.0) == 20);
    bias[20] = -0.0;
    dots[20] = -0.0f;
    CHECK(detail::first_at_least(bias.data(), dots.data(), 0, n, 0.0) == 20);
    bias.assign(n, -inf);
    CHECK(detail::first_at_least(bias.data(), dots.data(), 0, n,
                                 std::numeric_limits<double>::lowest()) == n);
  }
}
