// Events from live sources: records `user item [weight] [timestamp]` parsed from a line
// and from a Redis entry, and `recflow stream --implicit --source` on a replayed events file
// and on a real redis-server, scoring a held-out file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "redis_test_util.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_entries.hpp"
#include "recflow/sources/redis_client.hpp"
#include "sources_cli_util.hpp"
#include "tests/support/planted_event_file.hpp"

using namespace recflow;
using recflow::test::json_of;
using recflow::test::run_cli;
using recflow::test::scratch_dir;

TEST_CASE("event records: the weight is optional and positive, the scale does not apply",
          "[implicit][sources]") {
  const rating_scale scale{1.0, 5.0};
  auto e = parse_rating_text("7 9", scale, record_kind::event);
  REQUIRE(e);
  CHECK(e->user == 7);
  CHECK(e->item == 9);
  CHECK(e->value == 1.0f);
  auto w = parse_rating_text("7,9,12.5,99", scale, record_kind::event);
  REQUIRE(w);
  CHECK(w->value == 12.5f);  // outside the rating scale: fine for an event
  CHECK(w->timestamp == 99);
  for (std::string bad : {"7,9,-1", "7,9,0", "7,9,x", "7,9,", "7", "7,9,inf"}) {
    auto r = parse_rating_text(bad, scale, record_kind::event);
    INFO(bad);
    CHECK_FALSE(r);
  }
  CHECK(parse_rating_text("7", scale, record_kind::event).err().message
        == "1 field(s), expected user item [weight] [timestamp]");
  CHECK(parse_rating_text("7,9,-1", scale, record_kind::event).err().message.find("not positive")
        != std::string::npos);
  CHECK_FALSE(parse_rating_text("7 9", scale));  // a rating needs its value

  std::string reason;
  auto plain = redis_detail::decode_entry({"user", "1", "item", "2"}, true, scale, reason,
                                          record_kind::event);
  REQUIRE(plain);
  CHECK(plain->value == 1.0f);
  auto weighted = redis_detail::decode_entry({"user", "1", "item", "2", "weight", "3"}, true,
                                             scale, reason, record_kind::event);
  REQUIRE(weighted);
  CHECK(weighted->value == 3.0f);
  CHECK_FALSE(redis_detail::decode_entry({"user", "1", "item", "2"}, true, scale, reason));
  CHECK(reason.find("missing field rating") != std::string::npos);
}

namespace {

/// The planted events split by hand: user u holds out its first event on an item at or
/// after item u % 8 of its group (so the held-out items differ and each stays in some
/// other user's training events), the rest are streamed.
struct event_split {
  std::string train, test;
  int train_lines = 0;
};

event_split split_planted(const scratch_dir& dir) {
  auto all = recflow::test::write_planted_events(dir.path);
  std::ifstream in(all);
  std::ofstream train(dir.file("train.tsv")), test(dir.file("test.tsv"));
  event_split s{dir.file("train.tsv"), dir.file("test.tsv")};
  std::string line;
  std::vector<long> held;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long user = 0, item = 0;
    fields >> user >> item;
    const bool hold = item % 10 >= (user % 100) % 8
                      && std::find(held.begin(), held.end(), user) == held.end();
    if (hold) {
      held.push_back(user);
      test << line << '\n';
    } else {
      train << line << '\n';
      ++s.train_lines;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("cli: stream --implicit --source replay: streams an events file and scores --test",
          "[cli][implicit][sources]") {
  scratch_dir dir;
  auto s = split_planted(dir);
  auto r = run_cli("stream --implicit --source replay:" + s.train + " --replay-speed 0 --test "
                   + s.test + " --rank 3 --lambda 0.5 --batch-size 50 --negatives 20 --no-csv --json");
  auto j = json_of(r);
  CHECK(j["train_events"] == s.train_lines);
  CHECK(j["held_out"] == 36);
  CHECK(j["hr_at_10"].get<double>() >= 0.9);
  CHECK(j["dead_letters"] == 0);
  CHECK_THAT(r.out, Catch::Contains("(events)"));

  auto nothing = run_cli("stream --implicit --source replay:" + s.train
                         + " --replay-speed 0 --no-csv --json -q");
  auto jn = json_of(nothing);
  CHECK(jn["train_events"] == s.train_lines);
  CHECK_FALSE(jn.contains("hr_at_10"));
  CHECK_THAT(nothing.out, Catch::Contains("no --test to score on"));

  auto both = run_cli("stream --implicit --source replay:" + s.train + " --data " + s.train);
  CHECK(both.status == 2);
  auto test_alone = run_cli("stream --implicit --data " + s.train + " --test " + s.test);
  CHECK(test_alone.status == 2);
}

TEST_CASE("cli: stream --implicit --source redis:// takes events with and without weights",
          "[cli][implicit][redis]") {
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  for (auto fields : std::vector<std::vector<std::string>>{
         {"user", "1", "item", "2"}, {"user", "1", "item", "3", "weight", "4"},
         {"user", "2", "item", "2", "rating", "2"}, {"user", "2", "item", "3", "weight", "-1"},
         {"user", "3", "item", "x"}}) {
    std::vector<std::string> args{"XADD", "clicks", "*"};
    args.insert(args.end(), fields.begin(), fields.end());
    REQUIRE(c->command(args));
  }
  REQUIRE(c->command({"SET", "clicks:end", "1"}));
  auto r = run_cli("stream --implicit --source redis://" + server->address()
                   + "/clicks --redis-eos-key clicks:end --rank 2 --no-csv --json");
  auto j = json_of(r);
  CHECK(j["train_events"] == 3);
  CHECK(j["dead_letters"] == 2);
  CHECK_THAT(r.out, Catch::Contains("not positive") && Catch::Contains("item 'x'"));
  auto pending = c->command({"XPENDING", "clicks", "recflow"});
  REQUIRE(pending.has_value());
  CHECK(pending->elements.at(0).integer_value == 0);  // every entry acknowledged
}
