#include "recflow/actors/plain_links.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include <caf/io/all.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/scribe_impl.hpp>

#include "recflow/actors/link_auth.hpp"

namespace recflow {

// The scribes read BASP headers to bound a peer's messages.
static_assert(caf::io::basp::header_size == basp_header_bytes);

namespace {

using caf::io::network::default_multiplexer;
using caf::io::network::native_socket;

/// The hello of a link's proof: this text, a nonce (64 hex digits), a newline.
constexpr std::string_view hello_text = "recflow-link-1 ";
constexpr std::size_t hello_bytes = hello_text.size() + 64 + 1;
constexpr std::size_t proof_bytes = 64;  ///< HMAC-SHA256 in hex

/// What an end proves: the secret, its role, the other end's nonce and its own.
std::string link_proof(std::string_view secret, bool accepted, std::string_view other_nonce,
                       std::string_view own_nonce) {
  std::string text = accepted ? "recflow link proof, accepting end: " : "recflow link proof, dialling end: ";
  text.append(other_nonce).append(" ").append(own_nonce);
  return link_auth::hmac_hex(secret, text);
}

}  // namespace

class handshake_watch;

/// What the middleman, its doormen, its scribes and the layer share.
struct plain_links::state {
  tls_tunnel_options limits;
  std::string secret;
  std::atomic<std::size_t> open{0};  ///< accepted connections open now
  mutable std::mutex m;  ///< guards watch and refusals
  std::shared_ptr<handshake_watch> watch;  ///< null once the layer is going
  std::map<std::string, std::string> refusals;  ///< dialled host:port -> why this end closed it

  void log(const std::string& line) const {
    if (limits.log)
      limits.log(line);
  }
  void refused(const std::string& dialled, const std::string& why) {
    std::lock_guard<std::mutex> lock(m);
    refusals[dialled] = why;
  }
};

namespace {

/// CAF's TCP stream with the checks of plain_links.hpp. `dialled`: the host:port this end
/// connected to, empty for an accepted connection.
class guarded_scribe : public caf::io::network::scribe_impl {
 public:
  guarded_scribe(default_multiplexer& mx, native_socket fd,
                 std::shared_ptr<plain_links::state> links, std::string dialled)
      : scribe_impl(mx, fd), mpx_(mx), links_(std::move(links)), dialled_(std::move(dialled)),
        proven_(links_->secret.empty()) {
    if (accepted())
      ++links_->open;
  }
  ~guarded_scribe() override {
    if (accepted())
      --links_->open;
  }

  // Until the proof is done, BASP's writes wait in held_ and its read size is kept.
  void configure_read(caf::io::receive_policy::config c) override {
    if (proven_)
      return scribe_impl::configure_read(c);
    basp_read_ = c;
    if (own_nonce_.empty())
      send_hello();
  }
  std::vector<char>& wr_buf() override { return proven_ ? scribe_impl::wr_buf() : held_; }
  void flush() override {
    if (proven_)
      scribe_impl::flush();
  }

  bool consume(caf::execution_unit* ctx, const void* buf, std::size_t n) override {
    if (closing_)
      return true;
    const std::string_view bytes(static_cast<const char*>(buf), n);
    if (!proven_)
      return take_proof(bytes);
    // BASP reads exactly a header, then exactly its payload when it has one.
    if (in_payload_) {
      in_payload_ = false;
      greeted_ = true;
    } else if (n == basp_header_bytes) {
      // A hello (a proof this end does not ask for) can only come first.
      if (!greeted_ && bytes.substr(0, hello_text.size()) == hello_text)
        return refuse(accepted() ? "it proves a shared secret, which this node does not ask "
                                   "for (it runs --insecure)"
                                 : "asks for a shared secret (--secret-file)");
      const auto length = basp_payload_length(static_cast<const unsigned char*>(buf));
      if (length > links_->limits.max_message_bytes)
        return refuse("it sent a message of " + std::to_string(length) + " bytes (at most "
                      + std::to_string(links_->limits.max_message_bytes) + ")");
      in_payload_ = length > 0;
      greeted_ = length == 0;
    }
    return scribe_impl::consume(ctx, buf, n);
  }

  /// Whether a whole BASP message has arrived (after the proof). On the multiplexer's
  /// thread only.
  bool greeted() const noexcept { return greeted_; }
  /// Closes the connection, logged, unless it has ended already. On the multiplexer's
  /// thread.
  void close(caf::execution_unit* ctx, const std::string& why) {
    if (detached())
      return;
    noted(why);
    end(ctx);
  }

 protected:
  /// The connection ended (CAF forgets it): an accepted peer that leaves during the proof
  /// is logged too (a driver that found the node's proof wrong may close before its own
  /// proof has gone out).
  caf::message detach_message() override {
    if (accepted() && !proven_ && !closing_)
      links_->log("closed " + peer() + ": it left before proving the shared secret");
    return scribe_impl::detach_message();
  }

 private:
  bool accepted() const noexcept { return dialled_.empty(); }
  std::string peer() const {
    return accepted() ? addr() + ":" + std::to_string(port()) : dialled_;
  }

  /// Logs why this end closes the link (and keeps it for a driver's error).
  void noted(const std::string& why) {
    links_->log("closed " + peer() + ": " + why);
    if (!accepted())
      links_->refused(dialled_, why);
  }
  /// CAF forgets the connection (BASP hears it closed) and the socket leaves the event
  /// loop, which closes it.
  void end(caf::execution_unit* ctx) {
    if (detached())
      return;
    io_failure(ctx, caf::io::network::operation::read);
    remove_from_loop();
  }
  /// Refused now, closed once this read is over (the stream must still be reading for its
  /// removal to close the socket; the peer may close first): nothing more reaches BASP.
  bool refuse(const std::string& why) {
    closing_ = true;
    noted(why);
    auto* mx = &mpx_;
    mpx_.post([self = caf::intrusive_ptr<guarded_scribe>(this), mx] { self->end(mx); });
    return true;
  }

  void send_hello() {
    own_nonce_ = link_auth::nonce();
    auto& out = scribe_impl::wr_buf();
    out.insert(out.end(), hello_text.begin(), hello_text.end());
    out.insert(out.end(), own_nonce_.begin(), own_nonce_.end());
    out.push_back('\n');
    scribe_impl::flush();
    scribe_impl::configure_read(caf::io::receive_policy::exactly(hello_text.size()));
  }

  /// The other end's hello (its text, checked as soon as it has come, then its nonce),
  /// then its proof; then BASP's writes and reads go ahead.
  bool take_proof(std::string_view bytes) {
    if (!hello_seen_) {
      if (bytes != hello_text)
        return refuse(accepted() ? "sent no proof of the shared secret"
                                 : "asks no shared secret (it runs --insecure, or is no recflow "
                                   "node)");
      hello_seen_ = true;
      scribe_impl::configure_read(caf::io::receive_policy::exactly(hello_bytes - hello_text.size()));
      return true;
    }
    if (other_nonce_.empty()) {
      if (bytes.size() != 65 || bytes.back() != '\n')
        return refuse("sent a malformed hello");
      other_nonce_ = std::string(bytes.substr(0, 64));
      auto proof = link_proof(links_->secret, accepted(), other_nonce_, own_nonce_);
      auto& out = scribe_impl::wr_buf();
      out.insert(out.end(), proof.begin(), proof.end());
      scribe_impl::flush();
      scribe_impl::configure_read(caf::io::receive_policy::exactly(proof_bytes));
      return true;
    }
    auto expected = link_proof(links_->secret, !accepted(), own_nonce_, other_nonce_);
    if (!link_auth::same(bytes, expected))
      return refuse(accepted() ? "wrong proof of the shared secret"
                               : "does not know the shared secret (its proof of it is wrong)");
    proven_ = true;
    if (!held_.empty()) {
      auto& out = scribe_impl::wr_buf();
      out.insert(out.end(), held_.begin(), held_.end());
      held_.clear();
      scribe_impl::flush();
    }
    if (basp_read_)
      scribe_impl::configure_read(*basp_read_);
    return true;
  }

  default_multiplexer& mpx_;
  std::shared_ptr<plain_links::state> links_;
  std::string dialled_;
  bool proven_;             ///< the proof is done (or none is asked)
  bool hello_seen_ = false;  ///< the other end's hello text has come
  std::string own_nonce_, other_nonce_;
  std::vector<char> held_;  ///< BASP's writes before the proof is done
  std::optional<caf::io::receive_policy::config> basp_read_;
  bool in_payload_ = false;
  bool greeted_ = false;
  bool closing_ = false;  ///< refused: the close is posted, nothing more reaches BASP
};

}  // namespace

/// Closes each accepted connection that has not sent a whole BASP message within the
/// handshake timeout: a thread of its own ("recflow.links", started with the first
/// connection, so a process that only dials has none) that wakes at the next deadline and
/// hands the close to the multiplexer's thread, which alone may touch a scribe.
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

namespace {

/// CAF's TCP acceptor: a connection past the maximum is closed at once (logged), each
/// other one is a guarded_scribe on watch.
class guarded_doorman : public caf::io::network::doorman_impl {
 public:
  guarded_doorman(default_multiplexer& mx, native_socket fd,
                  std::shared_ptr<plain_links::state> links)
      : doorman_impl(mx, fd), links_(std::move(links)) {}
  bool new_connection() override {
    if (detached())
      return false;
    auto& mx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    if (links_->open.load() >= links_->limits.max_connections) {
      links_->log("refused a connection: " + std::to_string(links_->limits.max_connections)
                  + " are open, the most allowed");
      caf::io::network::close_socket(fd);
      return true;  // and go on accepting
    }
    caf::io::network::nonblocking(fd, true);
    auto s = caf::make_counted<guarded_scribe>(mx, fd, links_, std::string());
    {
      std::lock_guard<std::mutex> lock(links_->m);
      if (links_->watch)  // else the layer is going
        links_->watch->add(s);
    }
    auto hdl = s->hdl();
    parent()->add_scribe(std::move(s));
    return doorman::new_connection(&mx, hdl);
  }

 private:
  std::shared_ptr<plain_links::state> links_;
};

/// CAF's middleman actor over plain TCP with its two socket steps replaced, so that every
/// link reads through a guarded_scribe.
class guarded_middleman : public caf::io::middleman_actor_impl {
 public:
  guarded_middleman(caf::actor_config& cfg, caf::actor broker,
                    std::shared_ptr<plain_links::state> links)
      : caf::io::middleman_actor_impl(cfg, std::move(broker)), links_(std::move(links)) {}

  const char* name() const override { return "recflow::guarded_middleman"; }

 protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, std::uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    const auto dialled = host + ":" + std::to_string(port);
    {
      std::lock_guard<std::mutex> lock(links_->m);
      links_->refusals.erase(dialled);
    }
    return caf::io::scribe_ptr{caf::make_counted<guarded_scribe>(mpx(), *fd, links_, dialled)};
  }

  caf::expected<caf::io::doorman_ptr> open(std::uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::io::doorman_ptr{caf::make_counted<guarded_doorman>(mpx(), *fd, links_)};
  }

 private:
  default_multiplexer& mpx() {
    return static_cast<default_multiplexer&>(system().middleman().backend());
  }

  std::shared_ptr<plain_links::state> links_;
};

}  // namespace

plain_links::plain_links(caf::actor_system& sys, tls_tunnel_options o, std::string secret)
    : sys_(sys), state_(std::make_shared<state>()) {
  auto& mx = static_cast<default_multiplexer&>(sys.middleman().backend());
  state_->watch = std::make_shared<handshake_watch>(mx, o.handshake_timeout);
  state_->limits = std::move(o);
  state_->secret = std::move(secret);
}

plain_links::~plain_links() {
  std::shared_ptr<handshake_watch> watch;
  {
    std::lock_guard<std::mutex> lock(state_->m);
    watch = std::move(state_->watch);
  }
  watch.reset();  // joins its thread
}

caf::io::middleman_actor plain_links::spawn_middleman(caf::actor broker) {
  return sys_.spawn<guarded_middleman, caf::detached + caf::hidden>(std::move(broker), state_);
}

std::string plain_links::refusal(const std::string& host, std::uint16_t port) const {
  std::lock_guard<std::mutex> lock(state_->m);
  auto it = state_->refusals.find(host + ":" + std::to_string(port));
  return it == state_->refusals.end() ? std::string() : it->second;
}

}  // namespace recflow
