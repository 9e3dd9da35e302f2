#include <catch2/catch.hpp>

#include <set>

#include "recflow/graph/graph.hpp"
#include "ingest_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

std::vector<rating_batch> drain(rating_source& s) {
  std::vector<rating_batch> out;
  for (;;) {
    auto b = s.next();
    REQUIRE(b.has_value());
    if (!*b)
      return out;
    out.push_back(std::move(**b));
  }
}

std::vector<rating_event> events(std::size_t n, std::int64_t time_step) {
  std::vector<rating_event> es;
  for (std::size_t k = 0; k < n; ++k)
    es.push_back({std::int64_t(k % 7), std::int64_t(k % 5), 3.0f, std::int64_t(k) * time_step});
  return es;
}

}  // namespace

TEST_CASE("graph validation: a complete graph passes and each defect has a readable message",
          "[graph]") {
  auto g = make_streaming_graph(memory_source(events(10, 1)), stream_params{}, 2);
  REQUIRE(validate(g));

  auto message = [](const streaming_graph& bad) {
    auto r = validate(bad);
    REQUIRE_FALSE(r);
    return r.err().message;
  };
  auto no_source = g;
  no_source.source = nullptr;
  CHECK(message(no_source) == "graph has no source");
  auto zero = g;
  zero.partitions = 0;
  CHECK(message(zero) == "partition count must be positive, got 0");
  auto mismatch = g;
  mismatch.user_partitioner = hash_partitioner{3};
  CHECK(message(mismatch) == "user partitioner has 3 partitions, graph has 2");
  auto rank = g;
  rank.training.rank = 0;
  CHECK(message(rank) == "rank must be positive, got 0");
  auto sgd = g;
  sgd.training.mode = update_mode::sgd;
  CHECK_THAT(message(sgd), Catch::Contains("batch_gradient only"));
  auto eval = g;
  eval.evaluation = evaluation_options{};
  CHECK(message(eval) == "evaluation has no validation set");
  CHECK_THAT(g.describe(), Catch::Contains("user_owner -> item_owner (by item)"));
}

TEST_CASE("partitioners: every key lands in range and hashing spreads consecutive ids",
          "[graph]") {
  auto n = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{7});
  for (partitioner p : {partitioner{hash_partitioner{n}}, partitioner{modulo_partitioner{n}}}) {
    std::vector<std::size_t> hist(n, 0);
    for (std::int64_t key = -500; key < 9500; ++key) {
      auto part = p(key);
      REQUIRE(part < n);
      ++hist[part];
    }
    CHECK(p.partitions() == n);
    for (auto h : hist)  // 10,000 keys: each partition within 10% of its share
      CHECK(std::abs(double(h) - 10000.0 / double(n)) < 1000.0 / double(n));
  }
  CHECK(make_partitioner("hash", 3).name() == "hash");
  CHECK_FALSE(make_partitioner("range", 3).valid());
}

TEST_CASE("memory source: batches by count, then by event-time interval, then end", "[graph]") {
  auto by_count = memory_source(events(25, 1), {.max_ratings = 10});
  auto batches = drain(*by_count);
  REQUIRE(batches.size() == 3);
  CHECK(batches[2].size() == 5);
  CHECK(batches[1].ratings[0] == events(25, 1)[10]);

  // Timestamps 0, 3, 6, ...: a 10-second window holds 4 ratings.
  auto by_time = memory_source(events(25, 3), {.max_ratings = 0, .interval = 10});
  batches = drain(*by_time);
  REQUIRE(batches.size() == 7);
  CHECK(batches[0].size() == 4);
  auto both = memory_source(events(25, 3), {.max_ratings = 3, .interval = 10});
  CHECK(drain(*both)[0].size() == 3);

  auto none = memory_source(events(5, 1), {.max_ratings = 0, .interval = 0});
  auto r = none->next();
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "batch policy needs a count or an interval, got neither");
}

TEST_CASE("callable source: optional batches end the stream, errors pass through", "[graph]") {
  int calls = 0;
  auto plain = source_from([&]() -> std::optional<rating_batch> {
    if (++calls > 2)
      return std::nullopt;
    return rating_batch{events(4, 1)};
  });
  CHECK(drain(*plain).size() == 2);
  auto failing = source_from([]() -> result<std::optional<rating_batch>> {
    return error{errc::io, "disk on fire"};
  });
  auto r = failing->next();
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "disk on fire");
}

TEST_CASE("file source: reads MovieLens 100K in batches and reports a missing file", "[graph]") {
  auto ml = file_source(test::data_dir() + "/ml-100k/u.data", {}, {.max_ratings = 4096});
  std::size_t total = 0;
  for (auto& b : drain(*ml))
    total += b.size();
  CHECK(total == 100000);
  auto missing = file_source("/nonexistent/ratings.csv");
  auto r = missing->next();
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::io);
}

TEST_CASE("file source: streams in chunks the batches a whole-file read gives", "[graph]") {
  auto path = test::data_dir() + "/ml-100k/u.data";
  auto table = read_ratings(path);
  REQUIRE(table);
  auto all = to_batch(table->ratings, table->users, table->items).ratings;
  // Counts that do and do not divide the chunk of 65,536; an event-time window of a day
  // (u.data is not in time order, so windows close at any point of a chunk).
  for (batch_policy policy : {batch_policy{.max_ratings = 1000}, batch_policy{.max_ratings = 70'000},
                              batch_policy{.max_ratings = 0, .interval = 86'400},
                              batch_policy{.max_ratings = 500, .interval = 3'600}}) {
    INFO("max_ratings " << policy.max_ratings << ", interval " << policy.interval);
    auto streamed = drain(*file_source(path, {}, policy));
    auto whole = drain(*memory_source(all, policy));
    CHECK(streamed.size() == whole.size());
    CHECK(streamed == whole);
  }
}

TEST_CASE("file source: a bad line midway fails after the batches before it", "[graph]") {
  std::string text;
  for (int k = 1; k <= 2500; ++k)
    text += std::to_string(k) + "\t" + std::to_string(k % 7 + 1) + "\t4\t" + std::to_string(k) + "\n";
  text += "7\tseven\t4\t1\n";
  ingest_test::temp_file file(text, ".data");
  ingest_options strict;
  strict.format = input_format::ml100k;
  auto src = file_source(file.path, strict, {.max_ratings = 1000});
  for (int b = 0; b < 2; ++b) {
    auto ok = src->next();
    REQUIRE(ok);
    REQUIRE(*ok);
    CHECK((*ok)->size() == 1000);
  }
  auto bad = src->next();
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find(file.path + ":2501:") == 0);
}

TEST_CASE("synthetic source: same seed, same stream, ratings on the scale", "[graph]") {
  synthetic_params p{.users = 50, .items = 40, .ratings = 2500, .batch_size = 1000};
  auto a = drain(*synthetic_source(p));
  auto b = drain(*synthetic_source(p));
  REQUIRE(a.size() == 3);
  CHECK(a == b);
  std::set<std::int64_t> users;
  for (auto& batch : a)
    for (auto& r : batch.ratings) {
      CHECK(p.scale.contains(r.value));
      users.insert(r.user);
    }
  CHECK(users.size() == 50);
  p.seed = 8;
  CHECK(drain(*synthetic_source(p)) != a);
}

TEST_CASE("fold_mean: agrees bit for bit with factor_model::observe_mean", "[graph]") {
  auto data = test::make_planted({.users = 40, .items = 30});
  factor_model m(3, {});
  double mu = 0.0;
  std::uint64_t count = 0;
  std::span<const rating> all(data.table.ratings);
  for (std::size_t at = 0; at < all.size(); at += 97) {
    auto part = all.subspan(at, std::min<std::size_t>(97, all.size() - at));
    m.observe_mean(part);
    mu = fold_mean(mu, count, to_batch(part, data.table.users, data.table.items));
    REQUIRE(mu == m.mu());
  }
  CHECK(count == m.mu_count());
}
