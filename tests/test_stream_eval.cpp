#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/model/changed_ratings.hpp"
#include "recflow/model/split.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/streaming.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// A planted data set split 80/20 (seeded), as two tables in one id space.
struct planted_split {
  rating_table train, test;
  double noise;
};

planted_split planted(std::uint64_t seed) {
  test::planted_params pp;
  pp.seed = seed;
  auto d = test::make_planted(pp);
  auto s = random_split(d.table.ratings, 0.8, seed);
  return {d.table.with_ratings(s.train), d.table.with_ratings(s.test), pp.noise};
}

}  // namespace

TEST_CASE("streaming: planted factors are learnt down toward the noise level", "[stream]") {
  auto mode = GENERATE(update_mode::batch_gradient, update_mode::sgd);
  auto d = planted(11);
  stream_params p;
  p.mode = mode;
  streaming_trainer t(p, d.train.scale);
  stream_eval_options o;
  o.batch_size = 500;
  std::vector<stream_report> all;
  for (int epoch = 0; epoch < 3; ++epoch) {
    o.order_seed = 100 + epoch;
    auto r = stream_evaluate(t, d.train, d.test, o);
    REQUIRE(r);
    all.insert(all.end(), r->begin(), r->end());
  }
  INFO("first " << all.front().rmse << " after one epoch " << all[all.size() / 3 - 1].rmse
                << " last " << all.back().rmse << " noise " << d.noise);
  CHECK(all.back().rmse < 0.5 * all.front().rmse);
  CHECK(all.back().rmse < all[all.size() / 3 - 1].rmse);
  CHECK(all.back().rmse < 2.5 * d.noise);
}

TEST_CASE("streaming: a trained seed model is continued, not restarted", "[stream]") {
  auto d = planted(5);
  test::planted_params pp;
  pp.seed = 5;
  auto truth = test::make_planted(pp).truth;
  truth.rated() = rated_items::build(d.train.ratings, truth.n_users());
  stream_params p;
  p.rank = pp.rank;
  auto seeded = streaming_trainer::make(p, truth);
  REQUIRE(seeded);
  streaming_trainer cold(p, d.train.scale);
  stream_eval_options o;
  o.batch_size = 500;
  auto warm_r = stream_evaluate(*seeded, d.train, d.test, o);
  auto cold_r = stream_evaluate(cold, d.train, d.test, o);
  REQUIRE(warm_r);
  REQUIRE(cold_r);
  INFO("warm first " << warm_r->front().rmse << " cold first " << cold_r->front().rmse);
  CHECK(warm_r->front().rmse < 2.0 * d.noise);
  CHECK(warm_r->back().rmse < 2.0 * d.noise);
  CHECK(cold_r->front().rmse > 3.0 * warm_r->front().rmse);
  // The seed's parameters were the starting point: its ids kept their indices.
  CHECK(seeded->model().users() == truth.users());
  CHECK(seeded->model().rated().offsets.size() == std::size_t(truth.n_users()) + 1);
}

TEST_CASE("stream eval: batches are reported in order and options are checked", "[stream]") {
  auto d = planted(4);
  streaming_trainer t(stream_params{}, d.train.scale);
  stream_eval_options o;
  o.batch_size = 0;
  auto bad = stream_evaluate(t, d.train, d.test, o);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "batch size must be positive, got 0");
  o.batch_size = 1000;
  o.max_batches = 5;
  std::vector<stream_report> seen;
  auto r = stream_evaluate(t, d.train, d.test, o,
                           [&](const stream_report& rep) { seen.push_back(rep); });
  REQUIRE(r);
  REQUIRE(seen.size() == 5);
  CHECK(r->size() == 5);
  for (std::size_t k = 0; k < seen.size(); ++k) {
    CHECK(seen[k].batch == k + 1);
    CHECK(seen[k].ratings_seen == 1000 * (k + 1));
    CHECK(seen[k].rmse == (*r)[k].rmse);
    CHECK(seen[k].elapsed_seconds >= seen[k].batch_seconds);
  }
  o.max_batches = 0;
  streaming_trainer whole(stream_params{}, d.train.scale);
  auto all = stream_evaluate(whole, d.train, d.test, o);
  REQUIRE(all);
  CHECK(all->back().ratings_seen == d.train.size());
  CHECK(all->size() == (d.train.size() + 999) / 1000);
}

TEST_CASE("streaming: ml-latest-small in batches of 1,000 with the shipped defaults",
          "[stream][accuracy]") {
  auto table = read_ratings(test::data_dir() + "/ml-latest-small/ratings.csv");
  REQUIRE(table);
  auto s = random_split(table->ratings, 0.8, 42);
  auto train = table->with_ratings(std::move(s.train));
  auto test = table->with_ratings(std::move(s.test));
  auto t = streaming_trainer::make(stream_params{}, train.scale);
  REQUIRE(t);
  auto r = stream_evaluate(*t, train, test, stream_eval_options{.batch_size = 1000});
  REQUIRE(r);
  double worst_after_40 = 0.0;
  for (const auto& rep : *r)
    if (rep.batch > 40)
      worst_after_40 = std::max(worst_after_40, rep.rmse);
  WARN("ml-latest-small streaming: " << r->size() << " batches, final RMSE "
                                      << r->back().rmse << ", MAE " << r->back().mae
                                      << ", worst after batch 40 " << worst_after_40 << ", "
                                      << r->back().elapsed_seconds << " s");
  CHECK(r->size() == 81);
  CHECK(r->back().rmse <= 0.90);
  CHECK(worst_after_40 <= 0.95);
}

TEST_CASE("validation evaluator: evaluate()'s values bit for bit while the model grows", "[stream][metrics]") {
  auto d = planted(5);
  // The test set in its own id space (ids in another order than the training table's).
  rating_table test_table;
  for (const auto& r : d.test.ratings) {
    auto u = test_table.users.insert(d.test.users.external(r.user));
    auto i = test_table.items.insert(d.test.items.external(r.item));
    test_table.ratings.push_back({u, i, r.value, r.timestamp});
  }
  std::reverse(test_table.ratings.begin(), test_table.ratings.end());
  streaming_trainer t(stream_params{}, d.train.scale);
  validation_evaluator ev(test_table);
  // Before any batch every id is unknown: every prediction is mu.
  auto empty = ev(t.model());
  CHECK(empty.rmse == evaluate(t.model(), test_table).rmse);
  std::span<const rating> all(d.train.ratings);
  for (std::size_t at = 0; at < all.size(); at += 700) {
    auto batch = all.subspan(at, std::min<std::size_t>(700, all.size() - at));
    REQUIRE(t.apply(batch, d.train.users, d.train.items));
    auto want = evaluate(t.model(), test_table);
    auto got = ev(t.model());
    REQUIRE(got.count == want.count);
    CHECK(got.rmse == want.rmse);  // bit for bit: same predictions, same order of sums
    CHECK(got.mae == want.mae);
  }
  // Another model (ids in another order) through the same evaluator: the cache is checked.
  streaming_trainer other(stream_params{.seed = 9}, d.train.scale);
  auto shuffled = d.train.ratings;
  std::reverse(shuffled.begin(), shuffled.end());
  REQUIRE(other.apply(shuffled, d.train.users, d.train.items));
  CHECK(ev(other.model()).rmse == evaluate(other.model(), test_table).rmse);
}

TEST_CASE("validation evaluator: update() predicts only what the noted batches changed, the "
          "values of evaluate() bit for bit", "[stream][metrics]") {
  auto d = planted(5);
  rating_table test_table;  // its own id space, as above
  for (const auto& r : d.test.ratings) {
    auto u = test_table.users.insert(d.test.users.external(r.user));
    auto i = test_table.items.insert(d.test.items.external(r.item));
    test_table.ratings.push_back({u, i, r.value, r.timestamp});
  }
  auto batch_size = GENERATE(std::size_t{40}, std::size_t{700});
  auto every = GENERATE(std::size_t{1}, std::size_t{3});
  INFO("batches of " << batch_size << ", evaluated after every " << every);
  streaming_trainer t(stream_params{}, d.train.scale);
  validation_evaluator ev(test_table);
  std::span<const rating> all(d.train.ratings);
  std::size_t evaluations = 0;
  for (std::size_t at = 0, n = 0; at < all.size(); at += batch_size, ++n) {
    auto batch = all.subspan(at, std::min(batch_size, all.size() - at));
    REQUIRE(t.apply(batch, d.train.users, d.train.items));
    ev.note(batch, d.train.users, d.train.items);
    if ((n + 1) % every != 0)
      continue;
    auto want = evaluate(t.model(), test_table);
    auto got = ev.update(t.model());
    ++evaluations;
    REQUIRE(got.count == want.count);
    CHECK(got.rmse == want.rmse);
    CHECK(got.mae == want.mae);
  }
  CHECK(evaluations > 3);
  // A batch applied but not noted is the caller's error; another model is not: its id maps
  // carry other tags, so update() evaluates it in full.
  streaming_trainer other(stream_params{.seed = 9}, d.train.scale);
  REQUIRE(other.apply(all.first(500), d.train.users, d.train.items));
  CHECK(ev.update(other.model()).rmse == evaluate(other.model(), test_table).rmse);
  CHECK(ev.update(t.model()).rmse == evaluate(t.model(), test_table).rmse);
}

TEST_CASE("stream eval: --eval-every evaluates every n-th batch, the same values as every batch", "[stream]") {
  auto d = planted(6);
  stream_eval_options every{.batch_size = 900};
  streaming_trainer a(stream_params{}, d.train.scale);
  auto all = stream_evaluate(a, d.train, d.test, every);
  REQUIRE(all);
  auto third = every;
  third.eval_every = 3;
  streaming_trainer b(stream_params{}, d.train.scale);
  auto some = stream_evaluate(b, d.train, d.test, third);
  REQUIRE(some);
  REQUIRE(some->size() == all->size());
  for (std::size_t k = 0; k < all->size(); ++k) {
    INFO("batch " << k + 1);
    CHECK((*some)[k].evaluated == ((k + 1) % 3 == 0));
    if ((*some)[k].evaluated)
      CHECK((*some)[k].rmse == (*all)[k].rmse);
    else
      CHECK((*some)[k].rmse == 0.0);
  }
  CHECK(a.model() == b.model());
  third.eval_every = 0;
  auto bad = stream_evaluate(b, d.train, d.test, third);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "evaluation interval must be positive, got 0");
}

TEST_CASE("changed ratings: the entries of the users and items named, ascending, each once",
          "[metrics]") {
  // Entries grouped by user: users 0 0 1 2 2 2 4, items as below; user 3 has none; then
  // users 5..34 with one rating each of item 6.
  std::vector<index_t> users{0, 0, 1, 2, 2, 2, 4};
  std::vector<index_t> items{5, 1, 1, 0, 5, 2, 3};
  for (index_t u = 5; u < 35; ++u) {
    users.push_back(u);
    items.push_back(6);
  }
  changed_ratings index(users, items, 35, 7);
  REQUIRE(index.built());
  CHECK(index.size() == 37);
  std::vector<std::uint32_t> out{99};
  CHECK_FALSE(index.select({}, {}, out));
  CHECK(out.empty());
  CHECK_FALSE(index.select(std::vector<index_t>{2}, {}, out));
  CHECK(out == std::vector<std::uint32_t>{3, 4, 5});
  CHECK_FALSE(index.select(std::vector<index_t>{4, 0, 3, 0}, std::vector<index_t>{1, 5, 5}, out));
  CHECK(out == std::vector<std::uint32_t>{0, 1, 2, 4, 6});
  // Out of range: ignored.
  CHECK_FALSE(index.select(std::vector<index_t>{40}, std::vector<index_t>{9, 4}, out));
  CHECK(out.empty());
  // Selection leaves nothing behind for the next one.
  CHECK_FALSE(index.select({}, std::vector<index_t>{3}, out));
  CHECK(out == std::vector<std::uint32_t>{6});
  CHECK_FALSE(index.select({}, std::vector<index_t>{0, 1}, out));
  CHECK(out == std::vector<std::uint32_t>{1, 2, 3});
  // Naming 80% of the entries or more (30 of 37): all of them, without a list.
  out = {99};
  CHECK(index.select({}, std::vector<index_t>{6}, out));
  CHECK(out.empty());
  // And a sparse selection after that one is a list again.
  CHECK_FALSE(index.select(std::vector<index_t>{2}, {}, out));
  CHECK(out == std::vector<std::uint32_t>{3, 4, 5});
  CHECK_FALSE(changed_ratings{}.built());
  changed_ratings none;
  CHECK_FALSE(none.select(std::vector<index_t>{0}, {}, out));
  CHECK(out.empty());
}
