// The TCP source against a hostile or broken peer: an over-long line is a dead letter
// naming the peer and line (its bytes are dropped, not held), a peer that never completes
// the connect fails it within the connect timeout, and a peer that goes quiet fails the
// stream within the read timeout. All on 127.0.0.1, no external network.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "recflow/sources/socket_source.hpp"
#include "socket_test_util.hpp"

using namespace recflow;
using namespace std::chrono_literals;

namespace {

/// Accepts one client on 127.0.0.1, sends it `text`, then closes it (or, with
/// `hold`, keeps it open, silent, until this object goes).
class one_shot_server {
 public:
  explicit one_shot_server(std::string text, bool hold = false) {
    fd_ = recflow::test::listen_on_loopback(port);
    thread_ = std::thread([this, text = std::move(text), hold] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      for (std::size_t at = 0; at < text.size();) {
        auto n = ::send(c, text.data() + at, text.size() - at, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        at += static_cast<std::size_t>(n);
      }
      if (hold) {
        char b;
        ::recv(c, &b, 1, 0);  // until the source closes
      }
      ::close(c);
    });
  }
  ~one_shot_server() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port = 0;

 private:
  int fd_ = -1;
  std::thread thread_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("socket source: a line over the maximum is a dead letter naming peer and line, and the rest reads",
          "[sources]") {
  CHECK(socket_source_options{}.max_line == 64 * 1024);
  std::string huge(200'000, '7');  // digits: it would parse as a field if it were kept
  one_shot_server server("1,10,4\n" + huge + "\n2,11,3\n3,12," + huge);
  auto dead = std::make_shared<dead_letters>();
  auto src = socket_source({.peer = {"127.0.0.1", server.port}, .max_ratings = 100, .max_line = 1024,
                            .dead = dead});
  std::vector<rating_event> got;
  for (;;) {
    auto r = src->next();
    REQUIRE(r.has_value());
    if (!*r)
      break;
    got.insert(got.end(), (*r)->ratings.begin(), (*r)->ratings.end());
  }
  CHECK(got == std::vector<rating_event>{{1, 10, 4.0f, 0}, {2, 11, 3.0f, 0}});
  CHECK(dead->count() == 2);
  auto why = dead->first_reasons();
  REQUIRE(why.size() == 2);
  auto peer = "tcp://127.0.0.1:" + std::to_string(server.port);
  CHECK_THAT(why[0], Catch::Contains(peer + " line 2: longer than 1024 bytes"));
  CHECK_THAT(why[1], Catch::Contains(peer + " line 4: longer than 1024 bytes"));  // the last, unterminated
  CHECK_FALSE(validate(socket_source_options{.max_line = 0}));
}

TEST_CASE("socket source: a peer that never completes the connect fails it within the connect timeout",
          "[sources]") {
  // A listener whose accept queue is full: the kernel drops further SYNs, so a connect
  // stays pending (the client would retry for minutes).
  int port = 0;
  int listener = recflow::test::listen_on_loopback(port);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fillers;
  bool full = false;
  for (int k = 0; k < 32 && !full; ++k) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(c >= 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{c, POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0)
      full = true;  // this one hangs: the queue is full
    fillers.push_back(c);
  }
  REQUIRE(full);
  auto src = socket_source({.peer = {"127.0.0.1", port}, .connect_timeout = 300ms});
  auto t0 = std::chrono::steady_clock::now();
  auto r = src->next();
  auto took = seconds_since(t0);
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.err().message, Catch::Contains("cannot connect") && Catch::Contains("connect timeout"));
  CHECK(took >= 0.25);
  CHECK(took < 2.0);
  for (int c : fillers)
    ::close(c);
  ::close(listener);
}

TEST_CASE("socket source: a peer that goes quiet fails the stream within the read timeout", "[sources]") {
  one_shot_server server("1,10,4\n2,11,3\n", /*hold=*/true);
  auto src = socket_source({.peer = {"127.0.0.1", server.port}, .max_ratings = 100, .read_timeout = 300ms});
  auto t0 = std::chrono::steady_clock::now();
  auto first = src->next();  // what came before the silence
  REQUIRE(first.has_value());
  REQUIRE(*first);
  CHECK((*first)->size() == 2);
  auto then = src->next();
  auto took = seconds_since(t0);
  REQUIRE_FALSE(then.has_value());
  CHECK_THAT(then.err().message, Catch::Contains("tcp://127.0.0.1:") && Catch::Contains("read timeout"));
  CHECK(took >= 0.25);
  CHECK(took < 2.0);
}
