// Ingest: files, ids, the real MovieLens files, chunked reading, number parsing.
#include <catch2/catch.hpp>

#include <charconv>
#include <random>
#include <string>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/data/rating_reader.hpp"
#include "ingest_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace recflow::ingest_test;

TEST_CASE("ingest: empty files give no ratings, missing files are io errors", "[ingest]") {
  auto text = GENERATE(as<std::string>{}, "", "\n\n", "userId,movieId,rating,timestamp\n");
  temp_file file(text);
  rating_table t;
  auto r = read_ratings_into(file.path, {}, t);
  REQUIRE(r);
  CHECK(r->ratings == 0);
  CHECK(t.size() == 0);
  CHECK(read_chunked(file.path, {}, 10, 4).size() == 0);

  auto missing = file.path + ".missing";
  auto m = read_ratings(missing);
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::io);
  CHECK(m.err().message.rfind(missing + ": ", 0) == 0);
  auto mr = rating_reader::open(missing);
  REQUIRE_FALSE(mr);
  CHECK(mr.err().code == errc::io);
  auto dir = read_ratings(std::filesystem::temp_directory_path().string());
  REQUIRE_FALSE(dir);
  CHECK(dir.err().code == errc::io);
}

TEST_CASE("ingest: 64-bit and negative ids map to dense indices", "[ingest]") {
  auto t = parse_ok(
      "9223372036854775807\t-9223372036854775808\t3\t0\n-1\t0\t4\t1\n"
      "9223372036854775807\t0\t5\t2\n");
  CHECK(rows(t) == std::vector<row>{{INT64_MAX, INT64_MIN, 3, 0}, {-1, 0, 4, 1},
                                    {INT64_MAX, 0, 5, 2}});
  CHECK(t.ratings[2].user == 0);
  CHECK(t.ratings[2].item == 1);
  CHECK(t.users.size() == 2);
}

TEST_CASE("ingest: integers of every length parse exactly", "[ingest]") {
  // The scanner reads eight digits at a time: cover each length and the chunk seams.
  std::string text;
  std::vector<row> want;
  std::int64_t x = 0;
  for (int digits = 1; digits <= 18; ++digits) {
    x = x * 10 + digits % 10;
    std::int64_t ts = x + 1;
    text += std::to_string(x) + "," + std::to_string(-x) + ",0" + std::string(digits % 5, '0')
            + "4.5," + std::to_string(ts) + "\n";
    want.push_back({x, -x, 4.5f, ts});
  }
  text += "0000000000000000000000042,7,3.50000000000000000001,0\n";  // long: from_chars
  want.push_back({42, 7, 3.5f, 0});
  text += "1,2,.5,3\n1,2,5.,3\n1,2,4e0,3\n";
  want.push_back({1, 2, 0.5f, 3});
  want.push_back({1, 2, 5.0f, 3});
  want.push_back({1, 2, 4.0f, 3});
  CHECK(rows(parse_ok(text)) == want);
}

TEST_CASE("ingest: a train and a test file share one id space", "[ingest]") {
  temp_file train("10\t100\t4\t1\n20\t200\t3\t2\n");
  temp_file test("20\t100\t5\t3\n30\t300\t1\t4\n");
  rating_table t;
  REQUIRE(read_ratings_into(train.path, {}, t));
  auto first = t.size();
  REQUIRE(read_ratings_into(test.path, {}, t));
  REQUIRE(t.size() == 4);
  CHECK(t.ratings[first].user == t.ratings[1].user);  // user 20 again
  CHECK(t.ratings[first].item == t.ratings[0].item);  // item 100 again
  CHECK(t.users.size() == 3);
  CHECK(t.items.size() == 3);
  CHECK(rows(t).back() == row{30, 300, 1, 4});
}

TEST_CASE("ingest: binary garbage never crashes", "[ingest]") {
  auto seed = GENERATE(range(1, 9));
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::string text(static_cast<std::size_t>(rng() % 5000), '\0');
  for (auto& c : text) c = static_cast<char>(rng() % (seed % 2 ? 256 : 16) + (seed % 2 ? 0 : '('));
  if (seed % 3 == 0) text = "1\t2\t3\t4\n" + text;  // detected, then garbage
  for (auto f : {input_format::detect, input_format::ml100k, input_format::ml_csv}) {
    for (bool strict : {true, false}) {
      ingest_options o;
      o.format = f;
      o.strict = strict;
      rating_table t;
      auto r = parse_ratings_into(text, "junk", o, t);
      if (r) {
        CHECK(t.size() == r->ratings);
      } else {
        CHECK(r.err().message.rfind("junk:", 0) == 0);
        CHECK(t.size() == 0);
      }
      temp_file file(text);
      auto reader = rating_reader::open(file.path, o, 64);
      if (!reader) continue;
      std::vector<rating> batch;
      for (int k = 0; k < 10000; ++k) {
        auto n = reader->next(7, t, batch);
        if (!n || *n == 0) break;
      }
    }
  }
}

TEST_CASE("ingest: MovieLens 100K u.data has the published counts", "[ingest]") {
  ingest_report rep;
  auto t = read_ratings(test::data_dir() + "/ml-100k/u.data", {}, &rep);
  REQUIRE(t);
  CHECK(rep.format == input_format::ml100k);
  CHECK(t->size() == 100000);
  CHECK(t->users.size() == 943);
  CHECK(t->items.size() == 1682);
  CHECK(mean_rating(t->ratings) == Approx(3.529860).margin(5e-7));
  CHECK(rows(*t).front() == row{196, 242, 3, 881250949});
}

TEST_CASE("ingest: ml-latest-small ratings.csv has the published counts", "[ingest]") {
  ingest_report rep;
  auto t = read_ratings(test::data_dir() + "/ml-latest-small/ratings.csv", {}, &rep);
  REQUIRE(t);
  CHECK(rep.format == input_format::ml_csv);
  CHECK(rep.lines == 100837);
  CHECK(t->size() == 100836);
  CHECK(t->users.size() == 610);
  CHECK(t->items.size() == 9724);
  CHECK(mean_rating(t->ratings) == Approx(3.501557).margin(5e-7));
  CHECK(t->scale.min == 0.5);
}

TEST_CASE("ingest: chunked reading gives the same ratings as whole-file reading", "[ingest]") {
  auto path = test::data_dir() + "/ml-latest-small/ratings.csv";
  auto whole = read_ratings(path);
  REQUIRE(whole);
  auto max = GENERATE(std::size_t{1000}, std::size_t{65536}, SIZE_MAX);
  auto block = GENERATE(std::size_t{4096}, rating_reader::default_block);
  ingest_report rep;
  auto chunked = read_chunked(path, {}, max, block, &rep);
  CHECK(chunked.ratings.size() == whole->ratings.size());
  CHECK(rows(chunked) == rows(*whole));
  CHECK(chunked.users.externals() == whole->users.externals());
  CHECK(rep.lines == 100837);
  CHECK(rep.ratings == 100836);
}

TEST_CASE("ingest: chunked reading with the file's ids gives the rows of whole-file reading",
          "[ingest]") {
  auto path = test::data_dir() + "/ml-latest-small/ratings.csv";
  auto whole = read_ratings(path);
  REQUIRE(whole);
  auto max = GENERATE(std::size_t{1000}, SIZE_MAX);
  auto reader = rating_reader::open(path, {}, 4096);
  REQUIRE(reader);
  std::vector<external_rating> got;
  for (;;) {
    auto n = reader->next(max, got);
    REQUIRE(n);
    if (*n == 0) break;
  }
  CHECK(reader->done());
  CHECK(reader->report().ratings == 100836);
  std::vector<row> streamed;
  for (const auto& r : got)
    streamed.push_back({r.user, r.item, r.value, r.timestamp});
  CHECK(streamed == rows(*whole));
}

TEST_CASE("ingest: a bad line leaves the ratings read with the file's ids as they were",
          "[ingest]") {
  temp_file file("1\t2\t3\t4\n5\t6\t4\t7\n8\tnine\t4\t1\n");
  auto reader = rating_reader::open(file.path, with_format(input_format::ml100k));
  REQUIRE(reader);
  std::vector<external_rating> got{{.user = 42}};
  auto n = reader->next(10, got);
  REQUIRE_FALSE(n);
  CHECK(n.err().message.find(file.path + ":3:") == 0);
  REQUIRE(got.size() == 1);
  CHECK(got[0].user == 42);
}

TEST_CASE("ingest: chunked reading handles tiny blocks, CRLF and a last line without newline",
          "[ingest]") {
  std::string text = "user item rating ts\r\n";
  for (int k = 0; k < 200; ++k)
    text += std::to_string(k * 7919 % 1000) + "  " + std::to_string(k % 37) + "\t"
            + std::to_string(1 + k % 4) + ".5 " + std::to_string(1000 + k) + "\r\n";
  text += "\r\n5 6 1 7";
  auto whole = parse_ok(text);
  REQUIRE(whole.size() == 201);
  temp_file file(text);
  auto block = GENERATE(1, 2, 13, 100);
  auto max = GENERATE(std::size_t{1}, std::size_t{17});
  auto chunked = read_chunked(file.path, {}, max, static_cast<std::size_t>(block));
  CHECK(rows(chunked) == rows(whole));
}

TEST_CASE("ingest: random numbers parse as std::from_chars reads them", "[ingest]") {
  std::mt19937_64 rng(11);
  std::string text;
  std::vector<row> want;
  ingest_options o;
  o.scale = rating_scale{-1e300, 1e300};
  for (int k = 0; k < 3000; ++k) {
    auto digits = [&](int n) {
      std::string s;
      for (int d = 0; d < n; ++d) s.push_back(static_cast<char>('0' + rng() % 10));
      return s;
    };
    std::string user = rng() % 2 ? "-" : "";
    user += digits(1 + static_cast<int>(rng() % 18));
    auto item = digits(1 + static_cast<int>(rng() % 18));
    auto value = digits(1 + static_cast<int>(rng() % 9)) + "." + digits(static_cast<int>(rng() % 9));
    auto ts = digits(1 + static_cast<int>(rng() % 18));
    text += user + "\t" + item + "\t" + value + "\t" + ts + "\n";
    row r{};
    double v = 0;
    std::from_chars(user.data(), user.data() + user.size(), r.user);
    std::from_chars(item.data(), item.data() + item.size(), r.item);
    std::from_chars(value.data(), value.data() + value.size(), v);
    std::from_chars(ts.data(), ts.data() + ts.size(), r.timestamp);
    r.value = static_cast<float>(v);
    want.push_back(r);
  }
  CHECK(rows(parse_ok(text, o)) == want);
}
