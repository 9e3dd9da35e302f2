#include <catch2/catch.hpp>

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/ingest.hpp"
#include "data/rating_reader.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// A file in the temp dir holding `content`, removed when the object goes.
struct temp_file {
  std::string path;
  explicit temp_file(std::string_view content, std::string_view suffix = ".txt") {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path()
            / ("recflow_ingest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)
               + std::string(suffix)))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() { std::remove(path.c_str()); }
};

/// A rating with its external ids, for comparing tables.
struct row {
  std::int64_t user, item;
  float value;
  std::int64_t timestamp;
  bool operator==(const row&) const = default;
};

std::vector<row> rows(const rating_table& t, const std::vector<rating>& rs) {
  std::vector<row> out;
  for (auto& r : rs)
    out.push_back({t.users.external(r.user), t.items.external(r.item), r.value, r.timestamp});
  return out;
}
std::vector<row> rows(const rating_table& t) { return rows(t, t.ratings); }

rating_table parse_ok(std::string_view text, const ingest_options& opts = {},
                      ingest_report* report = nullptr) {
  rating_table t;
  auto r = parse_ratings_into(text, "mem", opts, t);
  INFO((r ? "" : r.err().message));
  REQUIRE(r);
  if (report) *report = *r;
  return t;
}

/// Reads a whole file through rating_reader in batches of `max`.
rating_table read_chunked(const std::string& path, const ingest_options& opts, std::size_t max,
                          std::size_t block, ingest_report* report = nullptr) {
  auto reader = rating_reader::open(path, opts, block);
  INFO((reader ? "" : reader.err().message));
  REQUIRE(reader);
  rating_table t;
  for (;;) {
    auto n = reader->next(max, t, t.ratings);
    INFO((n ? "" : n.err().message));
    REQUIRE(n);
    REQUIRE(*n <= max);
    if (*n == 0) break;
  }
  CHECK(reader->done());
  if (report) *report = reader->report();
  return t;
}

ingest_options with_format(input_format f) {
  ingest_options o;
  o.format = f;
  return o;
}

}  // namespace

TEST_CASE("ingest: format names round-trip", "[ingest]") {
  auto f = GENERATE(input_format::detect, input_format::ml100k, input_format::ml_csv,
                    input_format::ml_dat, input_format::delimited);
  CHECK(parse_input_format(to_string(f)) == f);
  CHECK_FALSE(parse_input_format("ml-20m").has_value());
}

TEST_CASE("ingest: each format parses from text and from a file", "[ingest]") {
  struct sample {
    const char* text;
    input_format format;
    ingest_options opts;
    std::vector<row> want;
    rating_scale scale;
  };
  ingest_options semicolons;
  semicolons.format = input_format::delimited;
  semicolons.separator = ";";
  semicolons.header = true;
  semicolons.item_column = 0;
  semicolons.user_column = 1;
  semicolons.rating_column = 3;
  semicolons.timestamp_column = -1;
  auto s = GENERATE_COPY(
      sample{"196\t242\t3\t881250949\n186\t302\t1\t891717742\n", input_format::ml100k,
             with_format(input_format::ml100k), {{196, 242, 3, 881250949}, {186, 302, 1, 891717742}},
             {1, 5}},
      sample{"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n",
             input_format::ml_csv, with_format(input_format::ml_csv),
             {{1, 1, 4.0f, 964982703}, {1, 3, 0.5f, 964981247}}, {0.5, 5}},
      sample{"1::1193::5::978300760\n1::661::3::978302109\n", input_format::ml_dat,
             with_format(input_format::ml_dat), {{1, 1193, 5, 978300760}, {1, 661, 3, 978302109}},
             {1, 5}},
      sample{"movie;user;note;rating\n10;7;x;4.5\n11;8;y;0.5\n", input_format::delimited,
             semicolons, {{7, 10, 4.5f, 0}, {8, 11, 0.5f, 0}}, {0.5, 5}});
  ingest_report rep;
  auto t = parse_ok(s.text, s.opts, &rep);
  CHECK(rows(t) == s.want);
  CHECK(rep.format == s.format);
  CHECK(rep.ratings == 2);
  CHECK(t.scale.min == s.scale.min);
  CHECK(t.scale.max == s.scale.max);

  temp_file file(s.text);
  ingest_report file_rep;
  auto from_file = read_ratings(file.path, s.opts, &file_rep);
  REQUIRE(from_file);
  CHECK(rows(*from_file) == s.want);
  CHECK(file_rep.lines == rep.lines);
}

TEST_CASE("ingest: detection recognises each layout from the first lines", "[ingest]") {
  struct sample {
    const char* text;
    input_format format;
    row first;
  };
  auto s = GENERATE(
      sample{"1\t2\t3\t100\n4\t5\t1\t200\n", input_format::ml100k, {1, 2, 3, 100}},
      sample{"userId,movieId,rating,timestamp\r\n1,2,3.5,100\r\n", input_format::ml_csv,
             {1, 2, 3.5f, 100}},
      sample{"1::2::3::100\n", input_format::ml_dat, {1, 2, 3, 100}},
      sample{"1\t2\t3.5\n", input_format::delimited, {1, 2, 3.5f, 0}},
      sample{"1,2,3.5,100\n", input_format::delimited, {1, 2, 3.5f, 100}},
      sample{"1,2,3.5\n", input_format::delimited, {1, 2, 3.5f, 0}},
      sample{"1   2  3.5 100\n", input_format::delimited, {1, 2, 3.5f, 100}},
      sample{"1 2 4\n", input_format::delimited, {1, 2, 4, 0}},
      sample{"1::2::4.5\n", input_format::delimited, {1, 2, 4.5f, 0}},
      sample{"user item rating\n1 2 4\n", input_format::delimited, {1, 2, 4, 0}},
      sample{"user\titem\trating\tts\n1\t2\t4\t9\n", input_format::delimited, {1, 2, 4, 9}},
      sample{"1, 2, 3.5, 100\n", input_format::delimited, {1, 2, 3.5f, 100}},
      sample{"\n\n1::2::3::100", input_format::ml_dat, {1, 2, 3, 100}});
  INFO(s.text);
  ingest_report rep;
  auto t = parse_ok(s.text, {}, &rep);
  CHECK(rep.format == s.format);
  REQUIRE(t.size() >= 1);
  CHECK(rows(t).front() == s.first);
}

TEST_CASE("ingest: a separator given with detect is the only one tried", "[ingest]") {
  ingest_options o;
  o.separator = "|";
  auto t = parse_ok("1|2|3|4\n5|6|2|8\n", o);
  CHECK(rows(t) == std::vector<row>{{1, 2, 3, 4}, {5, 6, 2, 8}});
}

TEST_CASE("ingest: delimited files have extra columns skipped and the header honoured",
          "[ingest]") {
  ingest_options o;
  o.format = input_format::delimited;
  o.separator = ",";
  o.header = true;
  o.timestamp_column = 4;
  auto t = parse_ok("u,i,r,comment,t\n1,2,3,\"hi\",5\n6,7,4,,8\n", o);
  CHECK(rows(t) == std::vector<row>{{1, 2, 3, 5}, {6, 7, 4, 8}});
  o.separator.clear();  // detected from the lines
  t = parse_ok("u\ti\tr\tc\tt\n1\t2\t3\tx\t5\n", o);
  CHECK(rows(t) == std::vector<row>{{1, 2, 3, 5}});
}

namespace {

struct bad_case {
  const char* line;
  errc code;
  const char* reason;
};

// Each is line 3 of an ml-latest file (after the header and one good line).
const std::vector<bad_case> bad_cases{
    {"1,2,3.5", errc::parse, "expected 4 fields separated by commas, found 3"},
    {"1,2,3.5,100,7", errc::parse, "expected 4 fields separated by commas, found 5"},
    {"x1,2,3.5,100", errc::parse, "user id 'x1' is not an integer"},
    {"1,abc,3.5,100", errc::parse, "item id 'abc' is not an integer"},
    {"1.5,2,3.5,100", errc::parse, "user id '1.5' is not an integer"},
    {"1,,3.5,100", errc::parse, "item id is empty"},
    {"99999999999999999999,2,3.5,100", errc::invalid_value,
     "user id '99999999999999999999' does not fit in 64 bits"},
    {"1,-9223372036854775809,3.5,100", errc::invalid_value,
     "item id '-9223372036854775809' does not fit in 64 bits"},
    {"1,2,good,100", errc::parse, "rating 'good' is not a number"},
    {"1,2,nan,100", errc::invalid_value, "rating 'nan' is not finite"},
    {"1,2,-inf,100", errc::invalid_value, "rating '-inf' is not finite"},
    {"1,2,5.5,100", errc::invalid_value, "rating '5.5' is outside the scale 0.5..5"},
    {"1,2,0,100", errc::invalid_value, "rating '0' is outside the scale 0.5..5"},
    {"1,2,-1,100", errc::invalid_value, "rating '-1' is outside the scale 0.5..5"},
    {"1,2,3.5x,100", errc::parse, "rating '3.5x' has trailing characters"},
    {"1x,2,3.5,100", errc::parse, "user id '1x' has trailing characters"},
    {"1,2,3.5,100 0", errc::parse, "timestamp '100 0' has trailing characters"},
    {"1,2,3.5,-5", errc::invalid_value, "timestamp '-5' is negative"},
    {"1,2,3.5,12.5", errc::parse, "timestamp '12.5' is not an integer"},
    {"1,2,3.5,1.2e9", errc::parse, "timestamp '1.2e9' is not an integer"},
    {"1,2,3.5,12abc", errc::parse, "timestamp '12abc' has trailing characters"},
    {"1,2,3.5,99999999999999999999", errc::invalid_value,
     "timestamp '99999999999999999999' does not fit in 64 bits"},
    {"1;2;3.5;100", errc::parse, "user id '1;2;3.5;100' has trailing characters"},
    {"\x01\xff\x80garbage", errc::parse, "user id '\\x01\\xff\\x80garbage' is not an integer"},
};

std::string with_bad_line(const char* bad) {
  return std::string("userId,movieId,rating,timestamp\n1,10,3.5,100\n") + bad + "\n3,30,4,300\n";
}

}  // namespace

TEST_CASE("ingest: strict mode stops at the first bad line with file:line: reason",
          "[ingest]") {
  auto c = GENERATE(from_range(bad_cases));
  INFO(c.line);
  rating_table t = parse_ok("5\t6\t2\t0\n");  // something already there must survive
  auto before = rows(t);
  auto text = with_bad_line(c.line);
  auto r = parse_ratings_into(text, "mem.csv", {}, t);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == c.code);
  CHECK(r.err().message == std::string("mem.csv:3: ") + c.reason);
  CHECK(rows(t) == before);
  CHECK(t.users.size() == 1);
  CHECK(t.items.size() == 1);
  CHECK(t.scale.min == 1.0);  // the ml100k scale of the first read, untouched

  temp_file file(text, ".csv");  // the same through a file and the chunked reader
  auto f = read_ratings_into(file.path, {}, t);
  REQUIRE_FALSE(f);
  CHECK(f.err().message == file.path + ":3: " + c.reason);
  CHECK(rows(t) == before);
  auto reader = rating_reader::open(file.path);
  REQUIRE(reader);
  std::vector<rating> batch;
  auto n = reader->next(100, t, batch);
  REQUIRE_FALSE(n);
  CHECK(n.err().message == file.path + ":3: " + c.reason);
  CHECK(batch.empty());
  CHECK(t.users.size() == 1);
  auto again = reader->next(100, t, batch);  // the error sticks
  REQUIRE_FALSE(again);
  CHECK(again.err().message == n.err().message);
}

TEST_CASE("ingest: lenient mode skips bad lines, counts them and keeps ten messages",
          "[ingest]") {
  std::string text = "userId,movieId,rating,timestamp\n";
  std::size_t good = 0;
  for (std::size_t k = 0; k < bad_cases.size(); ++k) {
    text += std::to_string(k) + ",1,4.5,7\n";
    ++good;
    text += std::string(bad_cases[k].line) + "\n";
  }
  ingest_options o;
  o.strict = false;
  ingest_report rep;
  auto t = parse_ok(text, o, &rep);
  CHECK(t.size() == good);
  CHECK(rep.ratings == good);
  CHECK(rep.skipped == bad_cases.size());
  CHECK(rep.lines == 1 + 2 * bad_cases.size());
  REQUIRE(rep.first_errors.size() == 10);
  for (std::size_t k = 0; k < 10; ++k)
    CHECK(rep.first_errors[k]
          == "mem:" + std::to_string(3 + 2 * k) + ": " + bad_cases[k].reason);

  temp_file file(text);
  ingest_report chunked;
  auto c = read_chunked(file.path, o, 3, 16, &chunked);
  CHECK(rows(c) == rows(t));
  CHECK(chunked.skipped == rep.skipped);
  CHECK(chunked.first_errors.size() == 10);
  CHECK(chunked.first_errors.back() == file.path + rep.first_errors.back().substr(3));
}

TEST_CASE("ingest: a scale option overrides the format's own", "[ingest]") {
  ingest_options o;
  o.scale = rating_scale{-10, 10};
  auto t = parse_ok("1\t2\t-7.25\t0\n", o);
  CHECK(t.ratings[0].value == -7.25f);
  CHECK(t.scale.min == -10);
  o.scale = rating_scale{0, 1};
  rating_table u;
  auto r = parse_ratings_into("1\t2\t3\t0\n", "s", o, u);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "s:1: rating '3' is outside the scale 0..1");
}

TEST_CASE("ingest: bad options are invalid arguments", "[ingest]") {
  ingest_options o;
  o.format = input_format::delimited;
  SECTION("columns clash") { o.item_column = 0; }
  SECTION("negative column") { o.rating_column = -1; }
  SECTION("column too large") { o.timestamp_column = 64; }
  SECTION("separator with a digit") { o.separator = "1"; }
  SECTION("empty scale") { o.scale = rating_scale{5, 1}; }
  rating_table t;
  auto r = parse_ratings_into("1,2,3\n", "o", o, t);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
}

TEST_CASE("ingest: CRLF, blank lines and a missing final newline are accepted", "[ingest]") {
  auto text = GENERATE(as<std::string>{}, "1\t2\t3\t4\r\n\r\n  \t\n2\t3\t4\t5",
                       "1\t2\t3\t4\n\n\n2\t3\t4\t5\r\n", "\r\n1\t2\t3\t4\r\n2\t3\t4\t5\n\n");
  ingest_report rep;
  auto t = parse_ok(text, {}, &rep);
  CHECK(rows(t) == std::vector<row>{{1, 2, 3, 4}, {2, 3, 4, 5}});
  CHECK(rep.format == input_format::ml100k);
  CHECK(rep.lines == 4);
  temp_file file(text);
  ingest_report chunked;
  CHECK(rows(read_chunked(file.path, {}, 1, 1, &chunked)) == rows(t));
  CHECK(chunked.lines == rep.lines);
}

TEST_CASE("ingest: line numbers count the header and blank lines", "[ingest]") {
  rating_table t;
  auto r = parse_ratings_into("userId,movieId,rating,timestamp\r\n\r\n1,2,3,4\r\n\r\n1,2,9,4\r\n",
                              "n.csv", {}, t);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "n.csv:5: rating '9' is outside the scale 0.5..5");
}

TEST_CASE("ingest: empty files give no ratings; missing files are io errors", "[ingest]") {
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
