#include "recflow/actors/tls_tunnel.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace recflow {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

struct tls_tunnel::impl {
  tls_tunnel_options opts;
  asio::io_context io;
  ssl::context ctx{ssl::context::tls};
  std::optional<tcp::acceptor> acceptor;
  std::filesystem::path local_dir;  ///< 0700 folder of the Unix socket CAF listens on
  unix_socket::endpoint local_endpoint;
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint16_t> served{0};  ///< the TLS port serve() bound
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;

  void log(const std::string& line) const {
    if (opts.log)
      opts.log(line);
  }

  ~impl() {
    work.reset();
    io.stop();
    if (thread.joinable())
      thread.join();
    if (!local_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(local_dir, ec);
    }
  }
};

namespace {

std::string name_of(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

/// Follows the BASP frames in a byte stream, chunk by chunk: the length of each payload
/// is read from its header as the header goes by.
class basp_frames {
 public:
  explicit basp_frames(std::size_t max) : max_(max) {}
  /// The length of a frame in `chunk` (the next bytes of the stream) that is over the
  /// maximum, or 0 when every header in it is fine.
  std::uint64_t too_long(const char* chunk, std::size_t n) {
    for (std::size_t at = 0; at < n;) {
      if (payload_left_ > 0) {
        const auto take = std::min<std::uint64_t>(payload_left_, n - at);
        payload_left_ -= take;
        at += take;
        continue;
      }
      header_[filled_++] = static_cast<unsigned char>(chunk[at++]);
      if (filled_ < basp_header_bytes)
        continue;
      filled_ = 0;
      const std::uint64_t length = basp_payload_length(header_.data());
      if (length > max_)
        return length;
      payload_left_ = length;
    }
    return 0;
  }

 private:
  std::size_t max_;
  std::array<unsigned char, basp_header_bytes> header_{};
  std::size_t filled_ = 0;
  std::uint64_t payload_left_ = 0;
};

/// One authenticated link: bytes copied both ways between the TLS stream and the local
/// socket CAF holds, until either side ends; then both close. What the peer sends is
/// checked frame by frame (basp_frames) before CAF gets it.
class link : public std::enable_shared_from_this<link> {
 public:
  link(tls_tunnel::impl& t, ssl::stream<tcp::socket> tls, unix_socket::socket plain,
       std::string peer)
      : t_(t),
        tls_(std::move(tls)),
        plain_(std::move(plain)),
        peer_(std::move(peer)),
        frames_(t.opts.max_message_bytes) {}
  ~link() { t_.open.fetch_sub(1); }

  void run() {
    copy(tls_, plain_, in_, &frames_);
    copy(plain_, tls_, out_, nullptr);
  }

 private:
  /// Reads what `from` has, writes it all to `to`, and again, until either fails; with
  /// `frames`, closes the link on a frame over the maximum instead of passing it on.
  template <class From, class To>
  void copy(From& from, To& to, std::array<char, 65536>& buf, basp_frames* frames) {
    auto self = shared_from_this();
    from.async_read_some(asio::buffer(buf), [self, &from, &to, &buf, frames](error_code ec,
                                                                          std::size_t n) {
      if (ec)
        return self->close();
      if (frames)
        if (auto length = frames->too_long(buf.data(), n)) {
          self->t_.log("closed " + self->peer_ + ": it sent a message of " + std::to_string(length)
                       + " bytes (at most " + std::to_string(self->t_.opts.max_message_bytes)
                       + ")");
          return self->close();
        }
      auto again = [self, &from, &to, &buf, frames](error_code ec, std::size_t) {
        if (ec)
          return self->close();
        self->copy(from, to, buf, frames);
      };
      asio::async_write(to, asio::buffer(buf.data(), n), again);
    });
  }
  void close() {
    error_code ignored;
    tls_.lowest_layer().close(ignored);
    plain_.close(ignored);
  }

  tls_tunnel::impl& t_;
  ssl::stream<tcp::socket> tls_;
  unix_socket::socket plain_;
  std::string peer_;
  basp_frames frames_;
  std::array<char, 65536> in_{};
  std::array<char, 65536> out_{};
};

/// An accepted peer until its handshake ends (then a link to CAF's socket) or times out.
class handshake : public std::enable_shared_from_this<handshake> {
 public:
  handshake(tls_tunnel::impl& t, tcp::socket s, std::string peer)
      : t_(t), tls_(std::move(s), t.ctx), timer_(t.io), peer_(std::move(peer)) {}
  ~handshake() {
    if (!linked_)
      t_.open.fetch_sub(1);
  }

  void run() {
    timer_.expires_after(t_.opts.handshake_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec)
        return;  // cancelled: the handshake ended first
      self->t_.log("closed " + self->peer_ + ": no TLS handshake within "
                   + std::to_string(self->t_.opts.handshake_timeout.count()) + " ms");
      error_code ignored;
      self->tls_.lowest_layer().close(ignored);
    });
    tls_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      self->timer_.cancel();
      if (ec) {
        if (self->tls_.lowest_layer().is_open())
          self->t_.log("refused " + self->peer_ + ": TLS handshake failed: " + ec.message());
        return;
      }
      auto plain = std::make_shared<unix_socket::socket>(self->t_.io);
      plain->async_connect(self->t_.local_endpoint, [self, plain](error_code ec) {
        if (ec) {
          self->t_.log("cannot forward " + self->peer_ + " to this node: " + ec.message());
          return;
        }
        self->linked_ = true;
        std::make_shared<link>(self->t_, std::move(self->tls_), std::move(*plain), self->peer_)
          ->run();
      });
    });
  }

 private:
  tls_tunnel::impl& t_;
  ssl::stream<tcp::socket> tls_;
  asio::steady_timer timer_;
  std::string peer_;
  bool linked_ = false;
};

/// Removes the socket folders (recflow-links-PID-XXXXXX, this user's) of nodes whose
/// process is gone: a node killed by SIGKILL cannot remove its own.
void remove_dead_folders() {
  std::error_code ec;
  const auto tmp = std::filesystem::temp_directory_path(ec);
  if (ec)
    return;
  for (const auto& e : std::filesystem::directory_iterator(tmp, ec)) {
    const auto name = e.path().filename().string();
    const std::string prefix = "recflow-links-";
    if (name.rfind(prefix, 0) != 0)
      continue;
    const auto dash = name.find('-', prefix.size());
    if (dash == std::string::npos)
      continue;
    const auto pid_text = name.substr(prefix.size(), dash - prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos
        || pid_text.size() > 9)
      continue;
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid())
      continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      std::filesystem::remove_all(e.path(), ignored);
    }
  }
}

void accept_next(tls_tunnel::impl& t) {
  t.acceptor->async_accept([&t](error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted)
      return;
    if (ec) {
      // EMFILE and friends: wait a little instead of spinning on the error.
      t.log("accept failed: " + ec.message());
      auto timer = std::make_shared<asio::steady_timer>(t.io, std::chrono::milliseconds(100));
      timer->async_wait([&t, timer](error_code) { accept_next(t); });
      return;
    }
    error_code peer_ec;
    auto peer = s.remote_endpoint(peer_ec);
    auto name = peer_ec ? std::string("a peer") : name_of(peer);
    if (t.open.load() >= t.opts.max_connections) {
      t.log("refused " + name + ": " + std::to_string(t.opts.max_connections)
            + " connections are open already");
      error_code ignored;
      s.close(ignored);
    } else {
      t.open.fetch_add(1);
      s.set_option(tcp::no_delay(true), peer_ec);
      std::make_shared<handshake>(t, std::move(s), std::move(name))->run();
    }
    accept_next(t);
  });
}

}  // namespace

tls_tunnel::tls_tunnel(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

tls_tunnel::~tls_tunnel() = default;

std::uint16_t tls_tunnel::served_port() const noexcept { return impl_->served.load(); }

result<std::unique_ptr<tls_tunnel>> tls_tunnel::start(tls_tunnel_options o) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(o);
  const auto& f = p->opts.files;
  if (f.certificate.empty() || f.key.empty() || f.ca.empty())
    return error{errc::invalid_argument, "TLS needs a certificate, its key and the CA"};
  try {
    p->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                       | ssl::context::no_sslv3 | ssl::context::no_tlsv1
                       | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    p->ctx.use_certificate_chain_file(f.certificate);
    p->ctx.use_private_key_file(f.key, ssl::context::pem);
    p->ctx.load_verify_file(f.ca);
    p->ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } catch (const boost::system::system_error& e) {
    return error{errc::invalid_argument,
                 "cannot use the TLS files " + f.certificate + ", " + f.key + ", " + f.ca + ": "
                   + e.what()};
  }
  p->work.emplace(asio::make_work_guard(p->io));
  p->thread = std::thread([q = p.get()] { q->io.run(); });
  return std::unique_ptr<tls_tunnel>(new tls_tunnel(std::move(p)));
}

result<tls_tunnel::listener> tls_tunnel::serve(const std::string& host, std::uint16_t port) {
  auto& t = *impl_;
  if (t.acceptor)
    return error{errc::invalid_argument, "this tunnel serves one address already"};
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {  // a name: its first address
    tcp::resolver resolver(t.io);
    auto found = resolver.resolve(host, std::to_string(port), ec);
    if (ec || found.empty())
      return error{errc::io, "cannot resolve " + host + ": " + ec.message()};
    address = found.begin()->endpoint().address();
  }
  tcp::acceptor acceptor(t.io);
  const tcp::endpoint where(address, port);
  acceptor.open(where.protocol(), ec);
  if (!ec)
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(where, ec);
  if (!ec)
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error{errc::io, "cannot listen on " + host + ":" + std::to_string(port) + ": "
                             + ec.message()};
  // CAF's side: a Unix socket in a folder only this user can enter, named after this
  // process so that the next node can remove what a killed one left.
  remove_dead_folders();
  auto pattern = (std::filesystem::temp_directory_path()
                  / ("recflow-links-" + std::to_string(::getpid()) + "-XXXXXX"))
                   .string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return error{errc::io, "cannot make a private folder in " + pattern + ": "
                             + std::strerror(errno)};
  t.local_dir = pattern;
  const auto path = (t.local_dir / "node.sock").string();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) {
    if (fd >= 0)
      ::close(fd);
    return error{errc::io, "cannot make the local socket " + path};
  }
  std::copy(path.begin(), path.end(), addr.sun_path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    auto why = std::string(std::strerror(errno));
    ::close(fd);
    return error{errc::io, "cannot listen on the local socket " + path + ": " + why};
  }
  t.local_endpoint = unix_socket::endpoint(path);
  t.acceptor.emplace(std::move(acceptor));
  const auto bound = t.acceptor->local_endpoint().port();
  t.served = bound;
  asio::post(t.io, [&t] { accept_next(t); });
  return listener{bound, fd};
}

result<int> tls_tunnel::dial(const std::string& host, std::uint16_t port) {
  auto& t = *impl_;
  const auto where = host + ":" + std::to_string(port);
  if (t.open.load() >= t.opts.max_connections)
    return error{errc::io, "cannot connect to " + where + ": "
                             + std::to_string(t.opts.max_connections)
                             + " connections are open already"};
  t.open.fetch_add(1);
  struct attempt {
    explicit attempt(tls_tunnel::impl& t) : tls(t.io, t.ctx), timer(t.io), resolver(t.io) {}
    ssl::stream<tcp::socket> tls;
    asio::steady_timer timer;
    tcp::resolver resolver;
    std::promise<result<int>> done;
    bool timed_out = false;
  };
  auto a = std::make_shared<attempt>(t);
  auto answer = a->done.get_future();
  auto fail = [&t, a, where](const std::string& what) {
    t.open.fetch_sub(1);
    error_code ignored;
    a->timer.cancel();
    a->tls.lowest_layer().close(ignored);
    a->done.set_value(error{errc::io, "cannot connect to " + where + ": "
                                        + (a->timed_out ? std::string("timed out") : what)});
  };
  asio::post(t.io, [&t, a, host, port, fail, where] {
    a->timer.expires_after(t.opts.connect_timeout);
    a->timer.async_wait([a](error_code ec) {
      if (ec)
        return;
      a->timed_out = true;
      error_code ignored;
      a->resolver.cancel();
      a->tls.lowest_layer().close(ignored);
    });
    auto resolved = [&t, a, fail, where](error_code ec, tcp::resolver::results_type found) {
      if (ec)
        return fail(ec.message());
      auto connected = [&t, a, fail, where](error_code ec, const tcp::endpoint&) {
        if (ec)
          return fail(ec.message());
        error_code ignored;
        a->tls.lowest_layer().set_option(tcp::no_delay(true), ignored);
        a->tls.async_handshake(ssl::stream_base::client, [&t, a, fail, where](error_code ec) {
          if (ec)
            return fail("TLS handshake failed: " + ec.message());
          a->timer.cancel();
          unix_socket::socket mine(t.io), theirs(t.io);
          asio::local::connect_pair(mine, theirs, ec);
          if (ec)
            return fail("no socketpair: " + ec.message());
          int fd = theirs.release();
          std::make_shared<link>(t, std::move(a->tls), std::move(mine), where)->run();
          a->done.set_value(fd);
        });
      };
      asio::async_connect(a->tls.lowest_layer(), found, connected);
    };
    a->resolver.async_resolve(host, std::to_string(port), resolved);
  });
  return answer.get();
}

}  // namespace recflow
