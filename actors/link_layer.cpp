#include "recflow/actors/link_layer.hpp"

#include <caf/io/all.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/scribe_impl.hpp>

#include "recflow/actors/plain_links.hpp"
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

}  // namespace

link_layer::link_layer(caf::actor_system& sys, std::shared_ptr<tls_tunnel> tunnel,
                       std::unique_ptr<plain_links> plain, caf::io::middleman_actor mm)
    : sys_(sys), tunnel_(std::move(tunnel)), plain_(std::move(plain)), mm_(std::move(mm)) {}

link_layer::~link_layer() {
  caf::anon_send_exit(mm_, caf::exit_reason::user_shutdown);
  plain_.reset();  // its thread stops before the actor system does
}

result<std::unique_ptr<link_layer>> link_layer::start(caf::actor_system& sys,
                                                      tls_tunnel_options o, std::string secret) {
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  if (!o.files.enabled()) {
    auto plain = std::make_unique<plain_links>(sys, std::move(o), std::move(secret));
    auto mm = plain->spawn_middleman(std::move(broker));
    return std::unique_ptr<link_layer>(new link_layer(
      sys, nullptr, std::move(plain), std::move(mm)));
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

std::string link_layer::refusal(const std::string& host, std::uint16_t port) const {
  return plain_ ? plain_->refusal(host, port) : std::string();
}

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
