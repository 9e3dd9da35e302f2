// The Redis source against a real redis-server: an ACL user, a server killed and restarted
// mid-stream, a dead consumer's entries claimed, the end key, the capped dead-letter stream
// and failed acknowledgements.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli_test_util.hpp"
#include "env_test_util.hpp"
#include "redis_test_util.hpp"
#include "recflow/sources/redis_source.hpp"

using namespace recflow;
using recflow::test::redis_or_skip;
using recflow::test::scratch_dir;
using std::chrono::milliseconds;

namespace {

std::vector<rating_event> events(int n, int from = 0) {
  std::vector<rating_event> ev;
  for (int j = from; j < from + n; ++j)
    ev.push_back({j % 97, j % 31, float(1 + j % 5), 1000 + j});
  return ev;
}

/// The next batch, which must come (an error or the end fails the test).
rating_batch next_batch(rating_source& src) {
  auto r = src.next();
  INFO((r ? std::string() : r.err().message));
  REQUIRE(r.has_value());
  REQUIRE(r->has_value());
  return std::move(**r);
}

/// Every batch until the end, each applied (acknowledged) once read.
std::vector<rating_batch> drain_applying(rating_source& src) {
  std::vector<rating_batch> out;
  for (;;) {
    auto r = src.next();
    INFO((r ? std::string() : r.err().message));
    REQUIRE(r.has_value());
    if (!*r)
      return out;
    src.applied((*r)->position);
    out.push_back(std::move(**r));
  }
}

std::vector<rating_event> ratings_of(const std::vector<rating_batch>& bs) {
  std::vector<rating_event> out;
  for (const auto& b : bs)
    out.insert(out.end(), b.ratings.begin(), b.ratings.end());
  return out;
}

long long pending(redis_client& c, const std::string& stream) {
  auto p = c.command({"XPENDING", stream, "recflow"});
  REQUIRE(p.has_value());
  REQUIRE(!p->elements.empty());
  return p->elements[0].integer_value;
}

std::string write_file(const scratch_dir& dir, const std::string& name, const std::string& text,
                       mode_t mode) {
  auto path = dir.file(name);
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

/// Notes a source logs, kept for the test to look at.
struct log_lines {
  std::mutex m;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& s) {
      std::lock_guard lock(m);
      lines.push_back(s);
    };
  }
  bool contains(const std::string& part) {
    std::lock_guard lock(m);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(part) != std::string::npos; });
  }
};

}  // namespace

TEST_CASE("redis credentials: from a file of the owner's only or the environment, never "
          "group- or world-readable",
          "[sources][redis]") {
  scratch_dir dir;
  recflow::test::scoped_env no_user("RECFLOW_REDIS_USER", nullptr);
  recflow::test::scoped_env no_password("RECFLOW_REDIS_PASSWORD", nullptr);
  auto none = read_redis_credentials("", "");
  REQUIRE(none.has_value());
  CHECK(none->password.empty());
  auto one = read_redis_credentials(write_file(dir, "one", "s3cret\n", 0600), "alice");
  REQUIRE(one.has_value());
  CHECK(one->user == "alice");
  CHECK(one->password == "s3cret");
  auto two = read_redis_credentials(write_file(dir, "two", "bob\n  p w d \n", 0400), "");
  REQUIRE(two.has_value());
  CHECK(two->user == "bob");
  CHECK(two->password == "p w d");
  CHECK_FALSE(read_redis_credentials(dir.file("two"), "carol").has_value());  // two users
  for (mode_t open_mode : {0640, 0604, 0660}) {
    auto path = write_file(dir, "open", "s3cret\n", open_mode);
    auto r = read_redis_credentials(path, "alice");
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.err().message, Catch::Contains(path) && Catch::Contains("chmod 600")
                                  && !Catch::Contains("s3cret"));
  }
  CHECK_FALSE(read_redis_credentials(dir.file("missing"), "").has_value());
  CHECK_FALSE(read_redis_credentials(write_file(dir, "empty", "\n", 0600), "").has_value());
  recflow::test::scoped_env user("RECFLOW_REDIS_USER", "eve");
  recflow::test::scoped_env password("RECFLOW_REDIS_PASSWORD", "from-env");
  auto env = read_redis_credentials("", "");
  REQUIRE(env.has_value());
  CHECK(env->user == "eve");
  CHECK(env->password == "from-env");
}

TEST_CASE("redis source: an ACL user logs in, a wrong password is a clear error",
          "[sources][redis]") {
  auto server = redis_or_skip({.args = {"--user", "default", "off", "--user", "alice", "on",
                                        ">s3cret", "~ratings*", "+@all"}});
  if (!server)
    return;
  redis_stream_address at{server->endpoint(), "ratings"};
  auto ev = events(50);
  redis_credentials alice{"alice", "s3cret"};
  REQUIRE(publish_ratings({.at = at, .auth = alice}, ev).has_value());

  auto refused = [&](const redis_credentials& who) {
    auto src = redis_source({.at = at, .auth = who});
    auto r = src->next();
    REQUIRE_FALSE(r.has_value());
    return r.err().message;
  };
  auto wrong = refused({"alice", "not-it"});
  CHECK_THAT(wrong, Catch::Contains(server->address()) && Catch::Contains("WRONGPASS")
                      && Catch::Contains("'alice'") && !Catch::Contains("not-it"));
  CHECK_THAT(refused({}), Catch::Contains("NOAUTH"));
  CHECK_THAT(refused({"mallory", "s3cret"}), Catch::Contains("WRONGPASS"));

  auto src = redis_source({.at = at, .auth = alice});
  CHECK(ratings_of(drain_applying(*src)) == ev);
}

TEST_CASE("redis source: redis-server killed and restarted mid-stream, the source connects "
          "again and reads every entry once",
          "[sources][redis]") {
  auto server = redis_or_skip({.persistent = true});
  if (!server)
    return;
  redis_stream_address at{server->endpoint(), "ratings"};
  auto first = events(2500), rest = events(500, 2500);
  REQUIRE(publish_ratings({.at = at, .end_marker = false}, first).has_value());
  log_lines log;
  auto src = redis_source({.at = at, .max_ratings = 1000, .log = log.sink()});
  auto b1 = next_batch(*src);
  src->applied(b1.position);
  auto b2 = next_batch(*src);  // read, not applied: pending in Redis when it dies

  // The third batch: 500 entries read, then the server dies while the source waits for
  // more; it comes back and the rest is published.
  std::thread chaos([&] {
    std::this_thread::sleep_for(milliseconds(300));
    server->kill();
    std::this_thread::sleep_for(milliseconds(400));
    REQUIRE(server->restart());
    REQUIRE(publish_ratings({.at = at}, rest).has_value());
  });
  auto b3 = next_batch(*src);
  chaos.join();
  src->applied(b2.position);
  src->applied(b3.position);
  auto end = src->next();
  REQUIRE(end.has_value());
  CHECK_FALSE(end->has_value());

  auto all = first;
  all.insert(all.end(), rest.begin(), rest.end());
  CHECK(ratings_of({b1, b2, b3}) == all);
  CHECK(log.contains("connecting again"));
  CHECK(log.contains("connected again"));
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  CHECK(pending(*c, "ratings") == 0);
  auto b = src->backlog(milliseconds(0));
  REQUIRE(b.has_value());
  CHECK(b->reconnects == 1);

  SECTION("a server that stays away: the source gives up after the limit") {
    auto quick = redis_source({.at = {at.server, "other"}, .max_ratings = 10,
                               .reconnect_limit = milliseconds(300), .log = log.sink()});
    REQUIRE(publish_ratings({.at = {at.server, "other"}, .end_marker = false}, events(5)));
    std::thread killer([&] {
      std::this_thread::sleep_for(milliseconds(200));
      server->kill();
    });
    auto r = quick->next();
    killer.join();
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.err().message, Catch::Contains("gave up connecting again")
                                  && Catch::Contains(server->address()));
  }
}

TEST_CASE("redis source: entries a killed consumer left pending are claimed and applied once",
          "[sources][redis]") {
  auto server = redis_or_skip();
  if (!server)
    return;
  redis_stream_address at{server->endpoint(), "ratings"};
  auto ev = events(2000);
  REQUIRE(publish_ratings({.at = at}, ev).has_value());
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  REQUIRE(c->command({"XGROUP", "CREATE", "ratings", "recflow", "0"}));
  // A consumer reads 700 entries and dies before acknowledging them.
  auto taken = c->command({"XREADGROUP", "GROUP", "recflow", "dead", "COUNT", "700", "STREAMS",
                           "ratings", ">"});
  REQUIRE(taken.has_value());
  REQUIRE(pending(*c, "ratings") == 700);
  std::this_thread::sleep_for(milliseconds(150));

  SECTION("with --redis-claim-idle they are trained on once") {
    auto src = redis_source({.at = at, .max_ratings = 1000, .claim_idle = milliseconds(100)});
    auto got = ratings_of(drain_applying(*src));
    auto by_value = [](const rating_event& a, const rating_event& b) {
      return a.timestamp < b.timestamp;
    };
    std::sort(got.begin(), got.end(), by_value);
    CHECK(got == ev);  // each of the 2000 once
    CHECK(pending(*c, "ratings") == 0);
    auto b = src->backlog(milliseconds(0));
    REQUIRE(b.has_value());
    CHECK(b->claimed == 700);
  }
  SECTION("without it they stay pending, as before") {
    auto src = redis_source({.at = at, .max_ratings = 1000});
    CHECK(ratings_of(drain_applying(*src)).size() == 1300);
    CHECK(pending(*c, "ratings") == 700);
  }
}

TEST_CASE("redis source: only the control key ends the stream, an eos field is a dead letter, "
          "the dead-letter stream is capped",
          "[sources][redis]") {
  auto server = redis_or_skip();
  if (!server)
    return;
  redis_stream_address at{server->endpoint(), "ratings"};
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  auto ev = events(300);
  REQUIRE(publish_ratings({.at = at, .end_marker = false}, std::span(ev).first(100)));
  REQUIRE(c->command({"XADD", "ratings", "*", "eos", "1"}));  // any producer's: no end
  for (int j = 0; j < 500; ++j)
    REQUIRE(c->command({"XADD", "ratings", "*", "hello", "world"}));
  REQUIRE(publish_ratings({.at = at, .end_marker = false}, std::span(ev).subspan(100)));
  auto dead = std::make_shared<dead_letters>();
  auto src = redis_source({.at = at, .max_ratings = 1000, .idle_timeout = milliseconds(3000),
                           .end_key = "control:end", .dead_letter_max = 10, .dead = dead});
  std::thread producer([&] {  // the trainer waits for the key, not for the idle timeout
    std::this_thread::sleep_for(milliseconds(300));
    REQUIRE(c->command({"SET", "ratings:eos", "1"}));  // not the key it was told
    std::this_thread::sleep_for(milliseconds(300));
    REQUIRE(c->command({"SET", "control:end", "1"}));
  });
  auto t0 = std::chrono::steady_clock::now();
  auto got = ratings_of(drain_applying(*src));
  auto took = std::chrono::steady_clock::now() - t0;
  producer.join();
  CHECK(got == ev);
  CHECK(took >= milliseconds(550));
  CHECK(took < milliseconds(2500));  // ended by the key, well before the idle timeout
  CHECK(dead->count() == 501);
  CHECK_THAT(dead->first_reasons().at(0), Catch::Contains("'eos' does not end the stream"));
  auto len = c->command({"XLEN", "ratings:dead"});
  REQUIRE(len.has_value());
  CHECK(len->integer_value < 501);  // MAXLEN ~ 10 trims whole nodes of 100 entries
  CHECK(len->integer_value >= 10);
  CHECK(pending(*c, "ratings") == 0);
}

TEST_CASE("redis source: a failed acknowledgement is counted, logged and made again with the "
          "next one",
          "[sources][redis]") {
  auto server = redis_or_skip({.persistent = true});
  if (!server)
    return;
  redis_stream_address at{server->endpoint(), "ratings"};
  REQUIRE(publish_ratings({.at = at}, events(300)).has_value());
  log_lines log;
  auto src = redis_source({.at = at, .max_ratings = 100, .log = log.sink()});
  auto b1 = next_batch(*src);
  auto b2 = next_batch(*src);
  auto b3 = next_batch(*src);
  server->kill();
  src->applied(b1.position);
  CHECK(log.contains("could not acknowledge 100 entries"));
  REQUIRE(server->restart());
  src->applied(b2.position);  // b1's entries go with it
  src->applied(b3.position);
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  CHECK(pending(*c, "ratings") == 0);
  auto b = src->backlog(milliseconds(0));
  REQUIRE(b.has_value());
  CHECK(b->failed_acks == 100);
}
