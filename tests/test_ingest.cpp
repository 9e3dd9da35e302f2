// Ingest: formats, detection, strict and lenient errors.
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

