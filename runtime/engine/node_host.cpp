#include "recflow/engine/node_host.hpp"

#include <atomic>
#include <iostream>
#include <mutex>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/link_layer.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/actors/node.hpp"
#include "recflow/engine/link_secret.hpp"
#include "recflow/engine/scheduler.hpp"

namespace recflow {

result<void> validate(const node_host_options& o) {
  if (o.workers == 0)
    return error{errc::invalid_argument, "workers must be positive, got 0"};
  if (o.handshake_timeout.count() <= 0)
    return error{errc::invalid_argument, "handshake timeout must be positive"};
  if (o.max_message_bytes < basp_header_bytes)
    return error{errc::invalid_argument, "the largest message must be at least "
                                           + std::to_string(basp_header_bytes) + " bytes"};
  if (o.listen.host.empty())
    return error{errc::invalid_argument, "node address has no host"};
  if (auto ok = check_link_security(o.secret, o.insecure, o.tls); !ok)
    return ok;
  return {};
}

struct node_host::impl {
  node_endpoint address;
  std::uint32_t protocol = 0;
  std::size_t workers = 0;
  std::function<void(const std::string&)> user_log;
  mutable std::mutex log_mutex;  ///< one line at a time, from any actor thread
  std::atomic<bool> stopping{false};  ///< stop() was called: on_stopped is not (outlives sys)
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<link_layer> links;  ///< plain or TLS
  caf::actor node;
  bool stopped = false;

  void log(const std::string& line) const {
    std::lock_guard<std::mutex> lock(log_mutex);
    if (user_log)
      user_log(line);
    else
      std::cerr << "recflow node " << address.name() << ": " << line << std::endl;
  }
};

node_host::node_host(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node_host::~node_host() { stop(); }

result<std::unique_ptr<node_host>> node_host::start(node_host_options o) {
  if (auto ok = validate(o); !ok)
    return ok.err();
  auto p = std::make_unique<impl>();
  p->address = o.listen;
  p->protocol = o.protocol != 0 ? o.protocol : cluster_protocol_version;
  p->workers = o.workers;
  p->user_log = std::move(o.log);
  add_graph_message_types(p->cfg);
  add_cluster_message_types(p->cfg);
  configure_cluster_middleman(p->cfg);
  configure_scheduler(p->cfg, o.workers);
  p->sys = std::make_unique<caf::actor_system>(p->cfg);
  // The node's links: TLS through the tunnel, or plain; the node logs their refusals,
  // naming the peer.
  const impl* self = p.get();
  auto links = link_layer::start(
    *p->sys, {.files = o.tls,
              .handshake_timeout = o.handshake_timeout,
              .max_message_bytes = o.max_message_bytes,
              .log = [tls = o.tls.enabled(), self](const std::string& line) {
                self->log((tls ? "TLS: " : "link: ") + line);
              }},
    o.secret);
  if (!links)
    return links.err();
  p->links = std::move(*links);
  // The node logs through the host, which names it by the address it listens on (known
  // once published): the raw pointer stays valid while the actor system runs.
  p->node = spawn_node(*p->sys, {.name = "",
                                 .log = [self](const std::string& line) { self->log(line); },
                                 .protocol = p->protocol,
                                 .secret = o.secret,
                                 .links = p->links->handle()});
  p->node->attach_functor([self, on_stopped = std::move(o.on_stopped)] {
    if (on_stopped && !self->stopping.load())
      on_stopped();
  });
  auto port = p->links->publish(p->node, o.listen.port, o.listen.host);
  if (!port) {
    p->stopping = true;
    caf::anon_send(p->node, stop_node{});
    return error{errc::io, "cannot listen on " + o.listen.name() + ": "
                             + p->sys->render(port.error())};
  }
  {
    std::lock_guard<std::mutex> lock(p->log_mutex);
    p->address.port = *port;
  }
  if (o.insecure)
    p->log(insecure_warning);
  return std::unique_ptr<node_host>(new node_host(std::move(p)));
}

const node_endpoint& node_host::address() const noexcept { return impl_->address; }
std::uint32_t node_host::protocol() const noexcept { return impl_->protocol; }
std::size_t node_host::workers() const noexcept { return impl_->workers; }
void node_host::log(const std::string& line) const { impl_->log(line); }

void node_host::stop() {
  if (!impl_ || impl_->stopped)
    return;
  impl_->stopped = true;
  impl_->stopping = true;
  caf::anon_send(impl_->node, stop_node{});
  impl_->links->unpublish(impl_->node, impl_->address.port);
  impl_->node = nullptr;
  impl_->links.reset();  // its middleman actor and tunnel, before the system
  impl_->sys.reset();  // waits for the node's actors to finish
}

}  // namespace recflow
