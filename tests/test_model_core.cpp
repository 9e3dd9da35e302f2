#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "recflow/model/growing_array.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/split.hpp"

using namespace recflow;

TEST_CASE("id map: ids get dense indices in order of first sight", "[model]") {
  id_map m;
  std::vector<std::int64_t> ids{42, -7, 1ll << 62, 42, 0, -7};
  std::vector<std::uint32_t> got;
  for (auto id : ids)
    got.push_back(m.insert(id));
  CHECK(got == std::vector<std::uint32_t>{0, 1, 2, 0, 3, 1});
  CHECK(m.size() == 4);
  CHECK(m.find(1ll << 62) == 2);
  CHECK(m.find(5) == id_map::npos);
  CHECK(m.external(1) == -7);
  for (std::int64_t k = 0; k < 100000; ++k)
    m.insert(k * 7919);
  CHECK(m.find(99999 * 7919) != id_map::npos);
  CHECK(m.external(m.find(500 * 7919)) == 500 * 7919);
}

TEST_CASE("id map: the tag changes exactly when indices may mean other ids", "[model]") {
  id_map m;
  m.insert(5);
  auto tag = m.tag();
  m.insert(6);  // appending keeps every index's meaning
  m.reserve(1000);
  CHECK(m.tag() == tag);
  id_map copy = m;  // a copy may grow differently from here on
  CHECK(copy.tag() != tag);
  CHECK(copy == m);
  id_map moved = std::move(m);  // the same assignment under the same name
  CHECK(moved.tag() == tag);
  CHECK(m.tag() != tag);
  CHECK(m.empty());
  auto before = moved.tag();
  moved = copy;
  CHECK(moved.tag() != before);
  CHECK(moved.tag() != copy.tag());
  before = copy.tag();
  copy.clear();
  CHECK(copy.tag() != before);
}

TEST_CASE("growing array: grows without losing or moving what it holds", "[model]") {
  growing_array<double> a;
  CHECK(a.empty());
  for (int k = 0; k < 300000; ++k)  // 2.4 MB: many times the first mapping
    a.push_back(k * 0.5);
  REQUIRE(a.size() == 300000);
  bool same = true;
  for (int k = 0; k < 300000; ++k)
    same = same && a[std::size_t(k)] == k * 0.5;
  CHECK(same);
  a.resize(300002, -1.0);
  CHECK(a[300001] == -1.0);
  growing_array<double> b = a;
  CHECK(b == a);
  b[7] = 1.0;
  CHECK(!(b == a));
  growing_array<double> c = std::move(b);
  CHECK(b.empty());
  CHECK(c[7] == 1.0);
  c.clear();
  CHECK(c.empty());
  c.resize(3, 2.0);  // capacity kept; new elements filled, not left over
  CHECK(std::vector<double>(c.begin(), c.end()) == std::vector<double>{2.0, 2.0, 2.0});
  a = c;
  CHECK(a.size() == 3);
}

TEST_CASE("model: unknown users and items fall back to biases, then mu, clamped", "[model]") {
  factor_model m(2, rating_scale{1.0, 5.0});
  m.set_mu(3.5, 10);
  auto u = m.add_user(100, 1, 0.1);
  auto i = m.add_item(200, 1, 0.1);
  m.user_bias()[u] = 0.5;
  m.item_bias()[i] = -0.25;
  m.U().row(u) << 1.0, 2.0;
  m.P().row(i) << 3.0, 0.5;
  prediction_source src{};
  // Never trained on: both unknown.
  CHECK(m.predict_external(100, 200, &src) == Approx(3.5));
  CHECK(src == prediction_source::mean);
  m.user_count()[u] = 1;
  CHECK(m.predict_external(100, 999, &src) == Approx(4.0));
  CHECK(src == prediction_source::user_bias);
  m.item_count()[i] = 1;
  CHECK(m.predict_external(100, 200, &src) == Approx(5.0));  // 3.5+0.5-0.25+4 clamped
  CHECK(src == prediction_source::full);
  CHECK(m.predict_external(7, 200, &src) == Approx(3.25));
  CHECK(src == prediction_source::item_bias);
}

TEST_CASE("model: initial factors depend only on seed, side and id", "[model]") {
  factor_model a(8, {}), b(8, {});
  a.add_user(1, 9, 0.1);
  a.add_user(2, 9, 0.1);
  b.add_user(2, 9, 0.1);
  b.add_user(1, 9, 0.1);
  CHECK(a.U().row(0) == b.U().row(1));
  CHECK(a.U().row(1) == b.U().row(0));
  CHECK(a.U().row(0) != a.U().row(1));
  auto i = a.add_item(1, 9, 0.1);
  CHECK(a.P().row(i) != a.U().row(0));
}

TEST_CASE("model: reserve changes no parameter and stops the tables from moving", "[model]") {
  factor_model a(8, {}), b(8, {});
  b.reserve(100, 50);
  const float* users_at = b.U().data().data();
  const float* items_at = b.P().data().data();
  for (std::int64_t id = 0; id < 100; ++id) {
    a.add_user(id * 7, 3, 0.1);
    b.add_user(id * 7, 3, 0.1);
  }
  for (std::int64_t id = 0; id < 50; ++id) {
    a.add_item(id, 3, 0.1);
    b.add_item(id, 3, 0.1);
  }
  CHECK(a == b);
  CHECK(b.U().data().data() == users_at);  // no reallocation: the rows never moved
  CHECK(b.P().data().data() == items_at);
  b.reserve(10, 10);  // less than held: nothing changes
  CHECK(b.U().data().data() == users_at);
  CHECK(a == b);
}

TEST_CASE("model: running mean folds batches exactly", "[model]") {
  factor_model m(1, {});
  std::vector<rating> b1{{0, 0, 1.0f, 0}, {0, 0, 2.0f, 0}};
  std::vector<rating> b2{{0, 0, 5.0f, 0}};
  m.observe_mean(b1);
  m.observe_mean(b2);
  CHECK(m.mu() == Approx(8.0 / 3.0));
  CHECK(m.mu_count() == 3);
}

TEST_CASE("split: seeded, disjoint and complete", "[model]") {
  std::vector<rating> rs;
  for (index_t k = 0; k < 1000; ++k)
    rs.push_back({k, k, 3.0f, 0});
  auto a = random_split(rs, 0.8, 7);
  auto b = random_split(rs, 0.8, 7);
  CHECK(a.train.size() == 800);
  CHECK(a.test.size() == 200);
  CHECK(a.test.front().user == b.test.front().user);
  std::vector<int> seen(1000, 0);
  for (auto& r : a.train) ++seen[r.user];
  for (auto& r : a.test) ++seen[r.user];
  CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
  std::size_t total_test = 0;
  for (int f = 0; f < 5; ++f)
    total_test += k_fold(rs, 5, f, 3).test.size();
  CHECK(total_test == 1000);
}

TEST_CASE("id map: from_externals refuses duplicates, even of the last id", "[model]") {
  id_map m;
  CHECK(id_map::from_externals({3, 9, -1}, m));
  CHECK(m.find(-1) == 2);
  CHECK_FALSE(id_map::from_externals({5, 5}, m));
  CHECK_FALSE(id_map::from_externals({1, 2, 1}, m));
}
