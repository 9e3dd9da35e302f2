#include "recflow/actors/link_layer.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <caf/io/all.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/scribe_impl.hpp>

#include "recflow/actors/tls_tunnel.hpp"

namespace recflow {

namespace {

// The tunnel reads BASP headers to bound a peer's messages (tls_tunnel.hpp).
static_assert(caf::io::basp::header_size == basp_header_bytes);

using caf::io::network::default_multiplexer;
using caf::io::network::native_socket;

/// CAF's plain stream over a local socket of the tunnel. CAF 0.17 asks a connection for
/// its peer's TCP address and ends the process on any other socket family, so this one
/// names the TLS end instead.
class tunnel_scribe : public caf::io::network::scribe_impl {
 public:
  tunnel_scribe(default_multiplexer& mx, native_socket fd, std::string addr, std::uint16_t port)
      : scribe_impl(mx, fd), addr_(std::move(addr)), port_(port) {}
  std::string addr() const override { return addr_; }
  std::uint16_t port() const override { return port_; }

 private:
  std::string addr_;
  std::uint16_t port_;
};

/// CAF's acceptor on the tunnel's Unix socket: each authenticated peer arrives here as a
/// tunnel_scribe; its address is the TLS one the node serves on.
class tunnel_doorman : public caf::io::network::doorman_impl {
 public:
  tunnel_doorman(default_multiplexer& mx, native_socket fd, std::string addr, std::uint16_t port)
      : doorman_impl(mx, fd), addr_(std::move(addr)), port_(port) {}
  bool new_connection() override {
    if (detached())
      return false;
    auto& mx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    caf::io::network::nonblocking(fd, true);
    auto s = caf::make_counted<tunnel_scribe>(mx, fd, addr_, port_);
    auto hdl = s->hdl();
    parent()->add_scribe(std::move(s));
    return doorman::new_connection(&mx, hdl);
  }
  std::string addr() const override { return addr_; }
  std::uint16_t port() const override { return port_; }

 private:
  std::string addr_;
  std::uint16_t port_;
};

/// CAF's middleman actor with its two socket steps replaced: connect() dials through the
/// tunnel and hands CAF the plain end of a socketpair; open() serves TLS through the
/// tunnel and hands CAF the Unix socket the tunnel forwards authenticated peers to.
class tls_middleman : public caf::io::middleman_actor_impl {
 public:
  tls_middleman(caf::actor_config& cfg, caf::actor broker, std::shared_ptr<tls_tunnel> tunnel)
      : caf::io::middleman_actor_impl(cfg, std::move(broker)), tunnel_(std::move(tunnel)) {}

  const char* name() const override { return "recflow::tls_middleman"; }

 protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, std::uint16_t port) override {
    auto fd = tunnel_->dial(host, port);  // blocks this actor until connected or refused
    if (!fd)
      return caf::make_error(caf::sec::cannot_connect_to_node, fd.err().message);
    caf::io::network::nonblocking(*fd, true);
    return caf::io::scribe_ptr{caf::make_counted<tunnel_scribe>(mpx(), *fd, host, port)};
  }

  caf::expected<caf::io::doorman_ptr> open(std::uint16_t port, const char* addr, bool) override {
    const std::string host = addr ? addr : "0.0.0.0";
    auto served = tunnel_->serve(host, port);
    if (!served)
      return caf::make_error(caf::sec::cannot_open_port, served.err().message);
    caf::io::network::nonblocking(served->local_fd, true);
    return caf::io::doorman_ptr{
      caf::make_counted<tunnel_doorman>(mpx(), served->local_fd, host, served->port)};
  }

 private:
  default_multiplexer& mpx() {
    return static_cast<default_multiplexer&>(system().middleman().backend());
  }

  std::shared_ptr<tls_tunnel> tunnel_;
};

/// The bounds a plain link keeps (a TLS link's are the tunnel's): the longest BASP
/// payload, the accepted connections open at once, and how long an accepted peer may take
/// to send its first whole message (BASP's handshake). Shared by the doorman, its scribes
/// and the watch that closes the silent ones.
struct plain_guard {
  tls_tunnel_options limits;
  std::atomic<std::size_t> open{0};  ///< accepted connections open now
  void log(const std::string& line) const {
    if (limits.log)
      limits.log(line);
  }
};

/// CAF's TCP stream, reading BASP's frames as they pass: a header that claims a payload
/// over the maximum closes the connection before CAF sizes a buffer to it (CAF 0.17 would
/// zero-fill up to 4 GiB for a stranger that sent 32 bytes), and the first whole message
/// marks the peer as greeted (see handshake_watch).
class guarded_scribe : public caf::io::network::scribe_impl {
 public:
  guarded_scribe(default_multiplexer& mx, native_socket fd, std::shared_ptr<plain_guard> guard,
                 bool accepted)
      : scribe_impl(mx, fd), mpx_(mx), guard_(std::move(guard)), accepted_(accepted) {
    if (accepted_)
      ++guard_->open;
  }
  ~guarded_scribe() override {
    if (accepted_)
      --guard_->open;
  }

  bool consume(caf::execution_unit* ctx, const void* buf, std::size_t n) override {
    // BASP reads exactly a header, then exactly its payload when it has one.
    if (closing_)
      return true;
    if (in_payload_) {
      in_payload_ = false;
      greeted_ = true;
    } else if (n == basp_header_bytes) {
      const auto* b = static_cast<const unsigned char*>(buf) + basp_length_offset;
      const std::size_t length = (std::size_t(b[0]) << 24) | (std::size_t(b[1]) << 16)
                                 | (std::size_t(b[2]) << 8) | std::size_t(b[3]);
      if (length > guard_->limits.max_message_bytes) {
        // BASP never sees the header, nor anything after it; the close runs once this
        // read is over (the stream must still be reading for its removal to close it).
        closing_ = true;
        auto why = "it sent a message of " + std::to_string(length) + " bytes (at most "
                   + std::to_string(guard_->limits.max_message_bytes) + ")";
        auto* mx = &mpx_;
        mpx_.post([self = caf::intrusive_ptr<guarded_scribe>(this), mx, why] { self->close(mx, why); });
        return true;
      }
      in_payload_ = length > 0;
      greeted_ = length == 0;
    }
    return scribe_impl::consume(ctx, buf, n);
  }

  /// Whether a whole message has arrived. On the multiplexer's thread only.
  bool greeted() const noexcept { return greeted_; }
  /// Closes the connection: CAF forgets it (BASP hears it closed) and the socket leaves the
  /// event loop, which closes it. On the multiplexer's thread.
  void close(caf::execution_unit* ctx, const std::string& why) {
    if (detached())
      return;
    guard_->log("closed " + peer() + ": " + why);
    io_failure(ctx, caf::io::network::operation::read);
    remove_from_loop();
  }

 private:
  std::string peer() const { return addr() + ":" + std::to_string(port()); }

  default_multiplexer& mpx_;
  std::shared_ptr<plain_guard> guard_;
  bool accepted_;
  bool in_payload_ = false;
  bool greeted_ = false;
  bool closing_ = false;  ///< refused: the close is posted, nothing more reaches BASP
};

/// Closes each accepted connection that has not sent a whole message within the handshake
/// timeout: a thread of its own ("recflow.links", started with the first connection, so a
/// process that only dials has none) that wakes at the next deadline and hands the close
/// to the multiplexer's thread, which alone may touch a scribe. Stopped by the layer,
/// before the actor system goes.
class handshake_watch {
 public:
  handshake_watch(default_multiplexer& mx, std::chrono::milliseconds timeout)
      : mx_(mx), timeout_(timeout) {}
  ~handshake_watch() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
      thread_.join();
  }
  /// Watches a connection accepted now (FIFO: every deadline is now + timeout).
  void add(caf::intrusive_ptr<guarded_scribe> s) {
    {
      std::lock_guard<std::mutex> lock(m_);
      pending_.push_back({clock::now() + timeout_, std::move(s)});
      if (!thread_.joinable()) {
        thread_ = std::thread([this] { run(); });
        ::pthread_setname_np(thread_.native_handle(), "recflow.links");
      }
    }
    cv_.notify_one();
  }

 private:
  using clock = std::chrono::steady_clock;
  struct entry {
    clock::time_point deadline;
    caf::intrusive_ptr<guarded_scribe> scribe;
  };

  void run() {
    std::unique_lock<std::mutex> lock(m_);
    while (!stop_) {
      if (pending_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (clock::now() < pending_.front().deadline) {
        cv_.wait_until(lock, pending_.front().deadline);
        continue;
      }
      auto s = std::move(pending_.front().scribe);
      pending_.pop_front();
      auto* mx = &mx_;
      const auto why = "no handshake within " + std::to_string(timeout_.count()) + " ms";
      mx_.dispatch([s, mx, why] {
        if (!s->greeted())
          s->close(mx, why);
      });
    }
  }

  default_multiplexer& mx_;
  std::chrono::milliseconds timeout_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<entry> pending_;
  bool stop_ = false;
  std::thread thread_;
};

/// CAF's TCP acceptor, with the bounds of plain_guard: a connection past the maximum is
/// closed at once (logged), each other one is a guarded_scribe on watch.
class guarded_doorman : public caf::io::network::doorman_impl {
 public:
  guarded_doorman(default_multiplexer& mx, native_socket fd, std::shared_ptr<plain_guard> guard,
                  std::shared_ptr<handshake_watch> watch)
      : doorman_impl(mx, fd), guard_(std::move(guard)), watch_(std::move(watch)) {}
  bool new_connection() override {
    if (detached())
      return false;
    auto& mx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    if (guard_->open.load() >= guard_->limits.max_connections) {
      guard_->log("refused a connection: " + std::to_string(guard_->limits.max_connections)
                  + " are open, the most allowed");
      caf::io::network::close_socket(fd);
      return true;  // and go on accepting
    }
    caf::io::network::nonblocking(fd, true);
    auto s = caf::make_counted<guarded_scribe>(mx, fd, guard_, true);
    watch_->add(s);
    auto hdl = s->hdl();
    parent()->add_scribe(std::move(s));
    return doorman::new_connection(&mx, hdl);
  }

 private:
  std::shared_ptr<plain_guard> guard_;
  std::shared_ptr<handshake_watch> watch_;
};

/// CAF's middleman actor over plain TCP with its two socket steps replaced, so that every
/// link, accepted or dialled, reads through a guarded_scribe.
class guarded_middleman : public caf::io::middleman_actor_impl {
 public:
  guarded_middleman(caf::actor_config& cfg, caf::actor broker, std::shared_ptr<plain_guard> guard,
                    std::shared_ptr<handshake_watch> watch)
      : caf::io::middleman_actor_impl(cfg, std::move(broker)), guard_(std::move(guard)),
        watch_(std::move(watch)) {}

  const char* name() const override { return "recflow::guarded_middleman"; }

 protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, std::uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    return caf::io::scribe_ptr{caf::make_counted<guarded_scribe>(mpx(), *fd, guard_, false)};
  }

  caf::expected<caf::io::doorman_ptr> open(std::uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::io::doorman_ptr{caf::make_counted<guarded_doorman>(mpx(), *fd, guard_, watch_)};
  }

 private:
  default_multiplexer& mpx() {
    return static_cast<default_multiplexer&>(system().middleman().backend());
  }

  std::shared_ptr<plain_guard> guard_;
  std::shared_ptr<handshake_watch> watch_;
};

}  // namespace

link_layer::link_layer(caf::actor_system& sys, std::shared_ptr<tls_tunnel> tunnel,
                       std::shared_ptr<void> watch, caf::io::middleman_actor mm)
    : sys_(sys), tunnel_(std::move(tunnel)), watch_(std::move(watch)), mm_(std::move(mm)) {}

link_layer::~link_layer() {
  caf::anon_send_exit(mm_, caf::exit_reason::user_shutdown);
  watch_.reset();  // its thread stops before the actor system does
}

result<std::unique_ptr<link_layer>> link_layer::start(caf::actor_system& sys,
                                                      tls_tunnel_options o) {
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  if (!o.files.enabled()) {
    auto& mx = static_cast<default_multiplexer&>(sys.middleman().backend());
    auto watch = std::make_shared<handshake_watch>(mx, o.handshake_timeout);
    auto guard = std::make_shared<plain_guard>();
    guard->limits = std::move(o);
    auto mm = sys.spawn<guarded_middleman, caf::detached + caf::hidden>(std::move(broker), guard,
                                                                        watch);
    return std::unique_ptr<link_layer>(new link_layer(
      sys, nullptr, std::move(watch), caf::actor_cast<caf::io::middleman_actor>(mm)));
  }
  auto tunnel = tls_tunnel::start(std::move(o));
  if (!tunnel)
    return tunnel.err();
  std::shared_ptr<tls_tunnel> shared(std::move(*tunnel));
  auto mm = sys.spawn<tls_middleman, caf::detached + caf::hidden>(std::move(broker), shared);
  return std::unique_ptr<link_layer>(new link_layer(
    sys, std::move(shared), nullptr, caf::actor_cast<caf::io::middleman_actor>(mm)));
}

bool link_layer::tls() const noexcept { return tunnel_ != nullptr; }

caf::io::middleman_actor link_layer::handle() const { return mm_; }

caf::expected<std::uint16_t> link_layer::publish(const caf::actor& a, std::uint16_t port,
                                                 const std::string& host) {
  auto f = caf::make_function_view(mm_);
  auto res = f(caf::publish_atom::value, port, caf::actor_cast<caf::strong_actor_ptr>(a),
               sys_.message_types(a), host, true);
  if (!res)
    return std::move(res.error());
  // Through the tunnel CAF's doorman is its local socket: the port is the tunnel's.
  return tunnel_ ? tunnel_->served_port() : *res;
}

void link_layer::unpublish(const caf::actor& a, std::uint16_t port) {
  // Port 0: every port `a` is published on (CAF knows the tunnel's doorman by the TLS port);
  // a TLS listener itself closes with the tunnel.
  caf::anon_send(mm_, caf::unpublish_atom::value, a.address(), tunnel_ ? std::uint16_t{0} : port);
}

caf::expected<caf::actor> link_layer::remote_actor(const std::string& host, std::uint16_t port) {
  auto f = caf::make_function_view(mm_);
  auto res = f(caf::connect_atom::value, host, port);
  if (!res)
    return std::move(res.error());
  auto ptr = std::get<1>(*res);
  if (!ptr)
    return caf::make_error(caf::sec::no_actor_published_at_port, host + ":" + std::to_string(port));
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

}  // namespace recflow
