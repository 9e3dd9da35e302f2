// Implicit feedback in: event files, ratings turned into events, repeated events added up.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "recflow/data/events.hpp"
#include "recflow/data/rating_reader.hpp"
#include "recflow/model/events.hpp"
#include "ingest_test_util.hpp"

using namespace recflow;
using namespace recflow::ingest_test;

namespace {

ingest_options events_format() {
  ingest_options o;
  o.format = input_format::events;
  return o;
}

}  // namespace

TEST_CASE("events: user item [weight] [timestamp], any separator, weight 1 by default",
          "[events]") {
  struct sample {
    std::string text;
    std::vector<row> want;
  };
  auto s = GENERATE(
      sample{"1 10\n2 20\n", {{1, 10, 1, 0}, {2, 20, 1, 0}}},
      sample{"1,10,2.5\n2,20,3\n", {{1, 10, 2.5f, 0}, {2, 20, 3, 0}}},
      sample{"1\t10\t4\t100\n2\t20\t0.5\t200\n", {{1, 10, 4, 100}, {2, 20, 0.5f, 200}}},
      sample{"user,item\n7,70\n", {{7, 70, 1, 0}}},
      sample{"1::10::2::5\r\n", {{1, 10, 2, 5}}});
  INFO(s.text);
  ingest_report report;
  auto t = parse_ok(s.text, events_format(), &report);
  CHECK(rows(t) == s.want);
  CHECK(report.format == input_format::events);
}

TEST_CASE("events: the chunked reader reads event files as whole-file ingest does",
          "[events]") {
  temp_file file("1 10\n2 20\n1 30\n3 10\n");
  auto reader = rating_reader::open(file.path, events_format(), 4);
  REQUIRE(reader);
  rating_table ids;
  std::vector<rating> out;
  while (true) {
    auto n = reader->next(1, ids, out);
    REQUIRE(n);
    if (*n == 0)
      break;
  }
  CHECK(rows(ids, out) == std::vector<row>{{1, 10, 1, 0}, {2, 20, 1, 0}, {1, 30, 1, 0}, {3, 10, 1, 0}});
}

TEST_CASE("events: repeated events add up, keeping the latest timestamp", "[events]") {
  temp_file file("1\t10\t1\t100\n2\t10\t1\t50\n1\t10\t2\t300\n1\t11\t1\t10\n1\t10\t0.5\t200\n");
  auto t = read_events(file.path);
  REQUIRE(t);
  CHECK(rows(*t) == std::vector<row>{{1, 10, 3.5f, 300}, {1, 11, 1, 10}, {2, 10, 1, 50}});
}

TEST_CASE("events: ratings at or above the threshold become events of weight 1", "[events]") {
  temp_file file("1\t10\t5\t100\n1\t11\t3\t200\n2\t10\t4\t300\n2\t12\t2\t400\n");
  auto t = read_events(file.path, {.ingest = {}, .threshold = 4.0});
  REQUIRE(t);
  CHECK(rows(*t) == std::vector<row>{{1, 10, 1, 100}, {2, 10, 1, 300}});
  CHECK(t->items.size() == 3);  // the id maps keep every id the file names
  CHECK_FALSE(read_events(file.path, {.ingest = {}, .threshold = std::nan("")}));
}

TEST_CASE("events: bad input is FILE:LINE: reason", "[events]") {
  struct bad {
    std::string text;
    std::string reason;
  };
  auto b = GENERATE(
      bad{"1 10 1\n2 20 0\n", ":2: weight '0' is not positive"},
      bad{"1 10 1\n2 20 -3\n", ":2: weight '-3' is not positive"},
      bad{"1 10 1\n2 20 x\n", ":2: weight 'x' is not a number"},
      bad{"1 10 1\n2 20 1e-50\n", ":2: weight '1e-50' is outside what a weight can hold (1.2e-38..3.4e38)"},
      bad{"1 10 1\n2 20 1e39\n", ":2: weight '1e39' is outside what a weight can hold"},
      bad{"1 10 1\n2 20 nan\n", ":2: weight 'nan' is not finite"},
      bad{"1 10\n3 30\n2 20 3\n", ":3: expected 2 fields separated by blanks, found 3"},
      bad{"1 10 1 5\n2 x 1 5\n", ":2: item id 'x' is not an integer"},
      bad{"1,10,1,5\n2,20,1,-5\n", ":2: timestamp '-5' is negative"},
      bad{"a;b;c\n", ":1: cannot detect the format: expected 'user item [weight] [timestamp]'"});
  INFO(b.text);
  temp_file file(b.text);
  auto t = read_events(file.path);
  REQUIRE_FALSE(t);
  INFO(t.err().message);
  CHECK(t.err().message.rfind(file.path + b.reason, 0) == 0);

  // Lenient: bad lines are skipped and counted.
  event_options lenient;
  lenient.ingest.strict = false;
  ingest_report report;
  auto l = read_events(file.path, lenient, &report);
  if (l)
    CHECK(report.skipped >= 1);
}

TEST_CASE("events: merge_events on an empty span and on distinct pairs", "[events]") {
  CHECK(merge_events({}).empty());
  std::vector<rating> rs{{1, 2, 1.0f, 5}, {0, 3, 2.0f, 1}};
  auto m = merge_events(rs);
  REQUIRE(m.size() == 2);
  CHECK(m[0].user == 0);
  CHECK(m[1].value == 1.0f);
}
