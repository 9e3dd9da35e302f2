// What a client can grow or hold on the HTTP surface: the bounds on POST /ratings (LRU of
// posted users, ratings per user, the training queue: 503, new ids per minute: 429) and the
// posted users' shared value, the per-client connection limit, the idle, header and request
// timeouts, the query threads and their queue, and the accept loop's pause when the process
// is out of descriptors.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "tests/serve_test_util.hpp"
#include "tests/socket_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;
using namespace recflow::serve;
using namespace std::chrono_literals;
using recflow::test::post_of;

namespace {

/// A raw connection to 127.0.0.1:port: sends `bytes`, then reads until the server closes
/// (or 3 s pass). Returns the seconds until the close, or -1 if it stayed open.
double seconds_until_closed(std::uint16_t port, const std::string& bytes) {
  int fd = test::connect_loopback(port);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  if (!bytes.empty())
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  char buf[512];
  double closed = -1;
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      closed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      break;
    }
    if (n < 0 && errno != EINTR)
      break;  // the receive timeout: still open
  }
  ::close(fd);
  return closed;
}

}  // namespace

TEST_CASE("serve bounds: posted users are kept least-recently-posted first, ratings per user newest first",
          "[serve]") {
  service_options o;
  o.max_posted_users = 3;
  o.max_posted_per_user = 2;
  query_service svc(o);
  svc.publish(test::tiny_model(), 1);
  for (std::int64_t u = 1000; u < 1005; ++u)
    REQUIRE(svc.handle("POST", "/ratings", post_of(u)).status == 200);
  auto posted = svc.snapshot()->posted;
  CHECK(posted->size() == 3);
  CHECK(posted->count(1002) + posted->count(1003) + posted->count(1004) == 3);
  CHECK(svc.evicted_users() == 2);
  // 1002 posts again: now 1003 is the least recently posted one and goes next.
  REQUIRE(svc.handle("POST", "/ratings", post_of(1002, 11)).status == 200);
  REQUIRE(svc.handle("POST", "/ratings", post_of(1005)).status == 200);
  posted = svc.snapshot()->posted;
  CHECK(posted->size() == 3);
  CHECK(posted->count(1002) == 1);
  CHECK(posted->count(1003) == 0);
  // A flood of new users keeps the map at its bound.
  for (std::int64_t u = 2000; u < 2500; ++u)
    REQUIRE(svc.handle("POST", "/ratings", post_of(u)).status == 200);
  CHECK(svc.snapshot()->posted->size() == 3);
  // Ratings per user: the newest two are kept.
  for (std::int64_t item : {10, 11, 12})
    REQUIRE(svc.handle("POST", "/ratings", post_of(2499, item)).status == 200);
  const auto* user = svc.snapshot()->posted->find(2499);
  REQUIRE(user != nullptr);
  const auto& kept = user->ratings;
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].item == 11);
  CHECK(kept[1].item == 12);
}

TEST_CASE("serve posted users: a new value changes what it sets and erases, the old one keeps "
          "every user", "[serve][security]") {
  using recflow::serve::posted_user;
  using recflow::serve::posted_users;
  auto user = [](bool fold, std::int64_t item) {
    auto p = std::make_shared<posted_user>();
    p->fold = fold;
    p->ratings.push_back({item, 4.0f});
    return std::shared_ptr<const posted_user>(p);
  };
  posted_users first;
  for (std::int64_t u = 0; u < 2000; ++u)
    first.set(u, user(u % 2 == 0, u));
  CHECK(first.size() == 2000);
  CHECK(first.folded() == 1000);
  posted_users second(first);
  CHECK(second.set(7, user(true, 99)) != nullptr);  // replaced: 7 was not folded, now is
  second.set(5000, user(false, 1));
  second.erase(8);
  second.erase(123456);  // absent: nothing happens
  CHECK(second.size() == 2000);
  CHECK(second.folded() == 1000);  // 7 came in, 8 went out
  CHECK(second.find(7)->ratings[0].item == 99);
  CHECK(second.find(8) == nullptr);
  CHECK(second.count(5000) == 1);
  // The first value is untouched: the changed maps were copied, not shared.
  CHECK(first.size() == 2000);
  CHECK(first.find(7)->ratings[0].item == 7);
  CHECK(first.count(8) == 1);
  CHECK(first.count(5000) == 0);
  for (std::int64_t u = 0; u < 2000; ++u)
    REQUIRE(first.find(u) != nullptr);
}

TEST_CASE("serve bounds: a full training queue answers 503 and too many new ids 429, with Retry-After",
          "[serve]") {
  service_options o;
  o.max_pending = 3;
  o.max_new_ids_per_minute = 4;
  query_service svc(o);
  svc.publish(test::tiny_model(), 1);
  std::size_t waiting = 0;
  svc.set_rating_sink([&](std::vector<rating_event> rs) { waiting += rs.size(); }, [&] { return waiting; });
  http_options h{.host = "127.0.0.1", .port = 0};
  auto server = http_server::start(svc, h);
  REQUIRE(server);
  test::http_client c((*server)->port());
  // Known users and items are not new: only the queue bounds them.
  CHECK(c.post("/ratings", post_of(1, 10)).status == 202);
  CHECK(c.post("/ratings", post_of(2, 11)).status == 202);
  CHECK(c.post("/ratings", post_of(1, 12)).status == 202);
  auto full = c.post("/ratings", post_of(2, 10));
  CHECK(full.status == 503);
  CHECK(full.header("retry-after") == "1");
  CHECK(waiting == 3);
  waiting = 0;  // the next batch took them
  // New ids: users 1000, 1001 and items 90, 91 fill the minute's four.
  CHECK(c.post("/ratings", post_of(1000, 90)).status == 202);
  CHECK(c.post("/ratings", post_of(1001, 91)).status == 202);
  CHECK(c.post("/ratings", post_of(1000, 10)).status == 202);  // 1000 is posted already: not new
  waiting = 0;
  auto many = c.post("/ratings", post_of(1002, 10));
  CHECK(many.status == 429);
  auto retry = std::stoi(many.header("retry-after"));
  CHECK(retry >= 1);
  CHECK(retry <= 60);
  CHECK(svc.snapshot()->posted->count(1002) == 0);
  CHECK(waiting == 0);  // nothing of the refused post was queued
}

TEST_CASE("serve limits: connections per client, idle and header timeouts close connections", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  http_options o{.host = "127.0.0.1", .port = 0};
  o.max_connections_per_client = 2;
  o.idle_timeout = 600ms;
  o.header_timeout = 200ms;
  o.request_timeout = 2s;
  auto server = http_server::start(svc, o);
  REQUIRE(server);
  auto port = (*server)->port();
  {
    test::http_client a(port), b(port);
    CHECK(a.get("/health").status == 200);
    CHECK(b.get("/health").status == 200);
    // A third connection from the same address is closed at once, unanswered.
    auto third = seconds_until_closed(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(third >= 0);
    CHECK(third < 0.25);
  }
  // The two closed: room again (the server notices the close asynchronously).
  for (int k = 0; k < 100; ++k) {
    try {
      test::http_client again(port);
      if (again.get("/health").status == 200)
        break;
    } catch (...) {
    }
    std::this_thread::sleep_for(10ms);
  }
  // A silent connection is closed after the idle timeout.
  auto idle = seconds_until_closed(port, "");
  CHECK(idle >= 0.55);
  CHECK(idle < 1.5);
  // Headers trickling in: closed after the header timeout, well before the idle one would.
  auto slow = seconds_until_closed(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  CHECK(slow >= 0.15);
  CHECK(slow < 0.5);
  // A kept-alive connection still answers after its requests (the timeouts restart).
  test::http_client c(port);
  CHECK(c.get("/health").status == 200);
  std::this_thread::sleep_for(300ms);  // longer than the header timeout, shorter than idle
  CHECK(c.get("/health").status == 200);
}

TEST_CASE("serve limits: queries run on the query threads, the I/O threads stay free, a full "
          "queue answers 503", "[serve]") {
  // A rating sink that holds the query thread (it runs inside POST /ratings) until released.
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> in_sink{0};
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  svc.set_rating_sink([&, released](std::vector<rating_event>) {
    ++in_sink;
    released.wait();
  });
  http_options o{.host = "127.0.0.1", .port = 0};
  o.threads = 1;
  o.query_threads = 1;
  o.max_queued_queries = 2;
  auto server = http_server::start(svc, o);
  REQUIRE(server);
  const auto port = (*server)->port();
  // The post that holds the only query thread.
  auto held = std::async(std::launch::async, [port] {
    test::http_client c(port);
    c.set_header("Content-Type", "application/json");
    return c.post("/ratings", post_of(1000)).status;
  });
  for (int k = 0; k < 500 && in_sink == 0; ++k)
    std::this_thread::sleep_for(10ms);
  REQUIRE(in_sink == 1);
  // One query waits for it (the queue holds 2: the held post and this one)...
  auto waiting = std::async(std::launch::async, [port] {
    return test::http_client(port).get("/predict?user=1&item=10").status;
  });
  for (int k = 0; k < 50; ++k)
    std::this_thread::sleep_for(10ms);
  // ...and the next is refused at once by the I/O thread, which a held query does not hold.
  test::http_client c(port);
  auto refused = c.get("/health");
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK_THAT(refused.body, Catch::Contains("too many queries wait for a query thread"));
  release.set_value();
  CHECK(held.get() == 202);
  CHECK(waiting.get() == 200);
  CHECK(c.get("/health").status == 200);
}

TEST_CASE("serve limits: a request whose body stalls is closed after the request timeout", "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  http_options o{.host = "127.0.0.1", .port = 0};
  o.idle_timeout = 5s;
  o.header_timeout = 5s;
  o.request_timeout = 300ms;
  auto server = http_server::start(svc, o);
  REQUIRE(server);
  // Whole headers at once, then 10 of the 100 body bytes promised, then nothing.
  auto stalled = seconds_until_closed((*server)->port(),
                                      "POST /ratings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                      "{\"user\": 1");
  CHECK(stalled >= 0.25);
  CHECK(stalled < 1.5);
  CHECK(svc.posted_ratings() == 0);
}

TEST_CASE("serve limits: out of descriptors, the accept loop pauses instead of spinning, then serves again",
          "[serve]") {
  query_service svc;
  svc.publish(test::tiny_model(), 1);
  auto server = http_server::start(svc, {.host = "127.0.0.1", .port = 0, .threads = 1});
  REQUIRE(server);
  auto port = (*server)->port();
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fds[3];
  for (int& fd : fds)
    REQUIRE((fd = ::socket(AF_INET, SOCK_STREAM, 0)) >= 0);
  for (int k = 0; k < 2; ++k)
    REQUIRE(::connect(fds[k], reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
  std::this_thread::sleep_for(100ms);  // the server has accepted both
  // Every descriptor this process may have is in use: the server's next accept fails.
  std::size_t open_now = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++open_now;
  }
  --open_now;  // the iterator's own
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = open_now;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  REQUIRE(::connect(fds[2], reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);  // the kernel queues it
  auto cpu = [] {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  double c0 = cpu();
  std::this_thread::sleep_for(500ms);
  double spent = cpu() - c0;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(spent < 0.1);  // a spinning accept loop burns the whole 0.5 s
  // Descriptors again: the queued connection is accepted (within the 1 s pause) and answered.
  timeval tv{3, 0};
  ::setsockopt(fds[2], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fds[2], get.data(), get.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(get.size()));
  char buf[256] = {};
  auto n = ::recv(fds[2], buf, sizeof buf - 1, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 200", 0) == 0);
  for (int fd : fds)
    ::close(fd);
}

