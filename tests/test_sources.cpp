// Stream sources (record parsing, replay, socket, Redis) and checkpoints, without the CLI.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_test_util.hpp"
#include "socket_test_util.hpp"
#include "recflow/graph/source_resume.hpp"
#include "recflow/graph/checkpoint.hpp"
#include "redis_test_util.hpp"
#include "recflow/sources/record_parse.hpp"
#include "recflow/sources/redis_source.hpp"
#include "recflow/sources/replay_source.hpp"
#include "recflow/sources/socket_source.hpp"

using namespace recflow;
using recflow::test::scratch_dir;

namespace {

/// Every batch of `src` until the end (or an error, which fails the test).
std::vector<rating_batch> drain(rating_source& src) {
  std::vector<rating_batch> out;
  for (;;) {
    auto r = src.next();
    REQUIRE(r.has_value());
    if (!*r)
      return out;
    out.push_back(std::move(**r));
  }
}

std::size_t count_ratings(const std::vector<rating_batch>& bs) {
  std::size_t n = 0;
  for (const auto& b : bs)
    n += b.size();
  return n;
}

factor_model small_model(double mu, std::uint64_t count) {
  factor_model m(4, {1.0, 5.0});
  m.add_user(7, 1, 0.1);
  m.add_item(9, 1, 0.1);
  m.set_mu(mu, count);
  return m;
}

}  // namespace

TEST_CASE("record parse: every separator reads, and a bad record says why", "[sources]") {
  rating_scale s{0.5, 5.0};
  for (const char* line : {"1,31,2.5,1260759144", "1\t31\t2.5\t1260759144", "1::31::2.5::1260759144",
                           "  1 31   2.5 1260759144\r"}) {
    INFO(line);
    auto e = parse_rating_text(line, s);
    REQUIRE(e.has_value());
    CHECK(*e == rating_event{1, 31, 2.5f, 1260759144});
  }
  auto no_ts = parse_rating_text("-4,5,3", s);
  REQUIRE(no_ts.has_value());
  CHECK(no_ts->user == -4);
  CHECK(no_ts->timestamp == 0);
  struct bad { const char* line; const char* why; };
  auto c = GENERATE(bad{"1,2", "2 field(s)"}, bad{"1,2,3,4,5", "more than 4"},
                    bad{"x,2,3", "user 'x' is not an integer"}, bad{"1,2,nan", "not finite"},
                    bad{"1,2,7", "outside the scale"}, bad{"1,2,3,", "timestamp is empty"},
                    bad{"99999999999999999999,2,3", "does not fit"}, bad{"1,2,3abc", "not a number"});
  INFO(c.line);
  auto e = parse_rating_text(c.line, s);
  REQUIRE_FALSE(e.has_value());
  CHECK_THAT(e.err().message, Catch::Contains(c.why));
}

TEST_CASE("checkpoints: newest good one loads, a corrupt newest falls back, keep bounds them",
          "[checkpoint]") {
  scratch_dir dir;
  checkpoint_options o{dir.file("ckpt"), 5, 2};
  auto none = load_latest_checkpoint(o.dir);
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  for (std::uint64_t b : {5, 10, 15}) {
    auto p = write_checkpoint(o, small_model(3.0 + b, b * 100), {b, b * 100, "pos-" + std::to_string(b)});
    REQUIRE(p.has_value());
  }
  auto files = list_checkpoints(o.dir);
  REQUIRE(files.size() == 2);  // keep = 2
  CHECK(files.back().ends_with("ckpt-000000000015.rfm"));
  auto c = load_latest_checkpoint(o.dir);
  REQUIRE(c.has_value());
  REQUIRE(c->has_value());
  CHECK((*c)->mark == stream_mark{15, 1500, "pos-15"});
  CHECK((*c)->model.mu() == 18.0);
  CHECK((*c)->rejected.empty());

  SECTION("a flipped byte in the newest: warned, and the previous one is used") {
    {
      std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      char x = 0;
      f.read(&x, 1);
      f.seekp(100);
      x = static_cast<char>(x ^ 0x5a);
      f.write(&x, 1);
    }
    auto back = load_latest_checkpoint(o.dir);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK((*back)->mark == stream_mark{10, 1000, "pos-10"});
    REQUIRE((*back)->rejected.size() == 1);
    CHECK_THAT((*back)->rejected[0], Catch::Contains("ckpt-000000000015.rfm"));
  }
  SECTION("a truncated newest and a torn temporary file: the previous one is used") {
    std::filesystem::resize_file(files.back(), 40);
    // Left by a writer that died (a child reaped here: its pid runs no process).
    pid_t dead = ::fork();
    if (dead == 0)
      ::_exit(0);
    REQUIRE(dead > 0);
    ::waitpid(dead, nullptr, 0);
    auto torn = o.dir + "/ckpt-000000000020.rfm.tmp." + std::to_string(dead);
    std::ofstream(torn) << "torn";
    auto back = load_latest_checkpoint(o.dir);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK((*back)->mark.batches == 10);
    // The next checkpoint written clears the torn temporary file away.
    REQUIRE(write_checkpoint(o, small_model(1, 2100), {21, 2100, "pos-21"}));
    CHECK_FALSE(std::filesystem::exists(torn));
  }
  SECTION("every checkpoint corrupt: an error naming the folder") {
    for (const auto& f : files)
      std::filesystem::resize_file(f, 10);
    auto bad = load_latest_checkpoint(o.dir);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.err().code == errc::corrupt);
    CHECK_THAT(bad.err().message, Catch::Contains(o.dir));
  }
  SECTION("a model file without checkpoint metadata is not a checkpoint") {
    REQUIRE(save_model(small_model(1, 1), o.dir + "/ckpt-000000000099.rfm"));
    auto back = load_latest_checkpoint(o.dir);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK((*back)->mark.batches == 15);
    CHECK((*back)->rejected.size() == 1);
  }
  CHECK_FALSE(validate(checkpoint_options{"d", 0, 1}).has_value());
  CHECK_FALSE(validate(checkpoint_options{"d", 1, 0}).has_value());
}

TEST_CASE("skip_ratings: drops whole batches, then the head of the batch that straddles",
          "[sources]") {
  std::vector<rating_event> ev;
  for (int j = 0; j < 10; ++j)
    ev.push_back({j, j, 3.0f, j});
  auto all = drain(*memory_source(ev, {.max_ratings = 3}));
  auto skip = GENERATE(0, 3, 4, 9, 10, 12);
  auto rest = drain(*skip_ratings(memory_source(ev, {.max_ratings = 3}), skip));
  CHECK(count_ratings(rest) == std::size_t(std::max(0, 10 - skip)));
  if (!rest.empty())
    CHECK(rest.front().ratings.front().user == skip);
  if (skip == 3)
    CHECK(rest == std::vector<rating_batch>(all.begin() + 1, all.end()));
}

TEST_CASE("replay source: timestamp order, positions, and resume after a position", "[sources]") {
  scratch_dir dir;
  auto path = dir.file("r.tsv");
  {
    std::ofstream f(path);
    // Out of time order; two days of ratings.
    f << "1\t10\t4\t180000\n2\t11\t3\t100\n3\t12\t5\t86500\n4\t13\t2\t50\n5\t14\t1\t86460\n";
  }
  replay_options o{.speed = 0.0, .policy = {.max_ratings = 100, .interval = 86400}};
  auto src = replay_source(path, {}, o);
  auto bs = drain(*src);
  REQUIRE(bs.size() == 3);  // day 0, day 1, day 2
  CHECK(bs[0].ratings.front().user == 4);
  CHECK(bs[0].ratings.back().user == 2);
  CHECK(bs[1].size() == 2);
  CHECK(bs[0].position == "rating:2");
  CHECK(bs[2].position == "rating:5");
  auto again = replay_source(path, {}, o);
  REQUIRE(again->resume_after(bs[0].position));
  auto rest = drain(*again);
  CHECK(rest == std::vector<rating_batch>(bs.begin() + 1, bs.end()));
  CHECK_FALSE(replay_source(path, {}, o)->resume_after("line:3").has_value());
  CHECK_FALSE(replay_source(path, {}, o)->resume_after("rating:9").has_value());

  SECTION("paced: two days at 86400 event seconds per second take about two seconds") {
    auto paced = replay_source(path, {}, {.speed = 4 * 86400.0, .policy = o.policy});
    auto t0 = std::chrono::steady_clock::now();
    CHECK(count_ratings(drain(*paced)) == 5);
    auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(s >= 0.4);  // (180000 - 50) / (4 * 86400) = 0.52 s
    CHECK(s < 5.0);
  }
}

namespace {

/// Serves `text` to the first client on a free port of 127.0.0.1, then closes.
struct line_server {
  int fd = -1;
  int port = 0;
  std::thread t;
  explicit line_server(std::string text) {
    fd = test::listen_on_loopback(port);
    t = std::thread([this, text = std::move(text)] {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0)
        return;
      std::size_t at = 0;
      while (at < text.size()) {  // in small pieces, so lines straddle reads
        auto n = ::send(c, text.data() + at, std::min<std::size_t>(7, text.size() - at), MSG_NOSIGNAL);
        if (n <= 0)
          break;
        at += std::size_t(n);
      }
      ::close(c);
    });
  }
  ~line_server() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    t.join();
  }
};

}  // namespace

TEST_CASE("socket source: newline-delimited ratings over TCP, malformed lines counted", "[sources]") {
  std::string text = "1,10,4\nnot a rating\n2\t11\t3.5\n\n3,12,9\n4::13::2::77\n5,14,1";
  line_server server(text);
  auto dead = std::make_shared<dead_letters>();
  auto src = socket_source({.peer = {"127.0.0.1", server.port}, .max_ratings = 2, .dead = dead});
  auto bs = drain(*src);
  REQUIRE(bs.size() == 2);
  CHECK(bs[0].ratings == std::vector<rating_event>{{1, 10, 4.0f, 0}, {2, 11, 3.5f, 0}});
  CHECK(bs[0].position == "line:3");
  CHECK(bs[1].ratings == std::vector<rating_event>{{4, 13, 2.0f, 77}, {5, 14, 1.0f, 0}});
  CHECK(dead->count() == 2);
  auto why = dead->first_reasons();
  REQUIRE(why.size() == 2);
  CHECK_THAT(why[0], Catch::Contains("line 2"));
  CHECK_THAT(why[1], Catch::Contains("line 5") && Catch::Contains("outside the scale"));
  CHECK_FALSE(src->resume_after("line:3").has_value());  // a socket cannot replay

  auto nobody = socket_source({.peer = {"127.0.0.1", recflow::test::free_port()}});
  auto r = nobody->next();
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.err().message, Catch::Contains("cannot connect"));
}

TEST_CASE("redis source: published ratings arrive once, acknowledged, dead letters set aside",
          "[sources][redis]") {
  auto server = recflow::test::redis_or_skip();
  if (!server)
    return;
  std::vector<rating_event> ev;
  for (int j = 0; j < 2500; ++j)
    ev.push_back({j % 97, j % 31, float(1 + j % 5), 1000 + j});
  redis_stream_address at{server->endpoint(), "ratings"};
  // Two bad entries before the good ones.
  auto c = redis_client::connect(server->endpoint());
  REQUIRE(c.has_value());
  REQUIRE(c->command({"XADD", "ratings", "*", "user", "1", "item", "2", "rating", "nan"}));
  REQUIRE(c->command({"XADD", "ratings", "*", "user", "1", "rating", "3"}));
  auto pub = publish_ratings({.at = at}, ev);
  REQUIRE(pub.has_value());
  CHECK(pub->published == 2500);

  auto dead = std::make_shared<dead_letters>();
  auto src = redis_source({.at = at, .max_ratings = 1000, .dead = dead});
  auto bs = drain(*src);
  REQUIRE(bs.size() == 3);
  CHECK(bs[0].size() == 1000);
  CHECK(bs[2].size() == 500);
  std::vector<rating_event> got;
  for (const auto& b : bs)
    got.insert(got.end(), b.ratings.begin(), b.ratings.end());
  CHECK(got == ev);
  auto newest = c->command({"XREVRANGE", "ratings", "+", "-", "COUNT", "1"});
  REQUIRE(newest.has_value());
  CHECK(bs[2].position == newest->elements.at(0).elements.at(0).str);  // the last rating: the end is a key, not an entry
  CHECK(dead->count() == 2);
  auto dl = c->command({"XLEN", "ratings:dead"});
  REQUIRE(dl.has_value());
  CHECK(dl->integer_value == 2);

  auto pending = [&] {
    auto p = c->command({"XPENDING", "ratings", "recflow"});
    REQUIRE(p.has_value());
    REQUIRE(p->elements.size() >= 1);
    return p->elements[0].integer_value;
  };
  CHECK(pending() > 0);  // read, not yet applied
  src->applied(bs[0].position);
  auto after_first = pending();
  CHECK(after_first > 0);
  src->applied(bs[2].position);
  CHECK(pending() == 0);

  SECTION("resuming after a position reads every later entry again, acknowledged or not") {
    auto again = redis_source({.at = at, .max_ratings = 1000});
    REQUIRE(again->resume_after(bs[0].position));
    auto rest = drain(*again);
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].ratings == bs[1].ratings);
    CHECK(rest[1].ratings == bs[2].ratings);
    CHECK_FALSE(again->resume_after("not-an-id").has_value());
  }
  SECTION("batches by time: a quiet stream ends a batch after the interval, idle ends the stream") {
    redis_stream_address at2{server->endpoint(), "slow"};
    auto timed = redis_source({.at = at2, .max_ratings = 1000,
                               .interval = std::chrono::milliseconds(100),
                               .idle_timeout = std::chrono::milliseconds(600)});
    REQUIRE(publish_ratings({.at = at2, .end_marker = false}, std::span(ev).first(10)));
    auto b = timed->next();
    REQUIRE(b.has_value());
    REQUIRE(b->has_value());
    CHECK((*b)->size() == 10);  // cut by the interval, not the count
    auto end = timed->next();
    REQUIRE(end.has_value());
    CHECK_FALSE(end->has_value());  // idle timeout
  }
  SECTION("a server that is not there is an error naming it") {
    auto port = server->port();
    server->stop();
    auto gone = redis_source({.at = {{"127.0.0.1", port}, "x"}});
    auto r = gone->next();
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.err().message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
  }
}
