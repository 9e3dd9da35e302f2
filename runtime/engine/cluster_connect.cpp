#include "recflow/engine/cluster_connect.hpp"

#include <optional>

#include <unistd.h>

#include <caf/io/all.hpp>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/link_auth.hpp"

namespace recflow {

std::string cluster_driver_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return "pid " + std::to_string(::getpid()) + " on " + host;
}

result<void> prove_secret(caf::actor_system& sys, caf::scoped_actor& self, const caf::actor& node,
                          const std::string& name, const std::string& secret,
                          std::chrono::milliseconds timeout) {
  std::optional<error> err;
  auto no_answer = [&](caf::error& e) {
    err = error{errc::io, "node " + name + " did not answer the secret's challenge: "
                            + sys.render(e)};
  };
  auto mine = link_auth::nonce();
  std::string theirs;
  self->request(node, timeout, challenge_atom::value, mine)
    .receive(
      [&](challenge_atom, const std::string& nonce, const std::string& proof) {
        if (nonce.empty())
          err = error{errc::io, "node " + name
                                  + " asks no shared secret (started with --insecure?): "
                                    "this driver has one and will not use it"};
        else if (!link_auth::same(proof, link_auth::node_proof(secret, mine, nonce)))
          err = error{errc::io, "node " + name
                                  + " does not know the shared secret (a wrong --secret-file "
                                    "on one side, or not the node you meant)"};
        theirs = nonce;
      },
      no_answer);
  if (err)
    return *err;
  auto proof = link_auth::driver_proof(secret, theirs, caf::to_string(sys.node()));
  self->request(node, timeout, auth_atom::value, proof)
    .receive(
      [&](auth_atom, bool ok, const std::string& msg) {
        if (!ok)
          err = error{errc::io, "node " + name + " refused this driver's secret: " + msg};
      },
      no_answer);
  if (err)
    return *err;
  return {};
}

result<std::vector<caf::actor>> connect_nodes(caf::actor_system& sys, caf::scoped_actor& self,
                                              link_layer& links,
                                              const std::vector<node_endpoint>& eps,
                                              const std::string& secret,
                                              std::chrono::milliseconds timeout) {
  std::vector<caf::actor> nodes;
  for (const auto& ep : eps) {
    auto node = links.remote_actor(ep.host, ep.port);
    if (!node) {
      // This end closed the link: the node failed the secret's proof, or asked another one.
      if (auto refused = links.refusal(ep.host, ep.port); !refused.empty())
        return error{errc::io, "node " + ep.name() + " " + refused};
      auto why = sys.render(node.error());
      if (!links.tls() && why.find("disconnect_during_handshake") != std::string::npos)
        why += std::string(" (") + (secret.empty() ? "" : "a node with another shared secret "
                                                          "refuses this driver's proof of it; ")
               + "a node that runs TLS refuses a driver without --tls-cert, --tls-key and "
                 "--tls-ca)";
      return error{errc::io, "cannot connect to node " + ep.name() + ": " + why};
    }
    std::optional<error> err;
    self->request(*node, timeout, hello_atom::value, cluster_protocol_version, cluster_driver_name())
      .receive(
        [&](hello_atom, std::uint32_t version, bool ok, const std::string& msg) {
          if (!ok || version != cluster_protocol_version)
            err = error{errc::version, "node " + ep.name() + " refused this driver: " + msg
                                         + " (driver protocol "
                                         + std::to_string(cluster_protocol_version) + ", node "
                                         + std::to_string(version) + ")"};
        },
        [&](caf::error& e) {
          err = error{errc::io, "node " + ep.name() + " did not answer the handshake: "
                                  + sys.render(e)};
        });
    if (err)
      return *err;
    if (!secret.empty())
      if (auto ok = prove_secret(sys, self, *node, ep.name(), secret, timeout); !ok)
        return ok.err();
    self->monitor(*node);
    nodes.push_back(*node);
  }
  // Each node connects to the nodes after it: one connection per pair, which carries both
  // directions. (A second connection of the same pair, made from the other end, broke the
  // routes of CAF 0.17 over TLS: replies from the first node never reached the driver.)
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    mesh_request peers;
    for (std::size_t m = 0; m < nodes.size(); ++m)
      if (m > n && nodes[m].node() != nodes[n].node()) {
        peers.hosts.push_back(eps[m].host);
        peers.ports.push_back(eps[m].port);
      }
    std::optional<error> err;
    self->request(nodes[n], timeout, mesh_atom::value, std::move(peers))
      .receive([&](mesh_atom, std::uint32_t) {},
               [&](caf::error& e) {
                 err = error{errc::io, "node " + eps[n].name()
                                         + " could not connect to the other nodes: "
                                         + sys.render(e)};
               });
    if (err)
      return *err;
  }
  return nodes;
}

std::string silent_node(caf::scoped_actor& self, const std::vector<caf::actor>& actors,
                        const std::vector<node_endpoint>& nodes) {
  for (std::size_t n = 0; n < actors.size(); ++n) {
    bool alive = false;
    self->request(actors[n], std::chrono::seconds(1), ping_atom::value)
      .receive([&](ping_atom) { alive = true; }, [&](caf::error&) {});
    if (!alive)
      return nodes[n].name();
  }
  return {};
}

std::optional<std::size_t> node_index(const std::vector<caf::actor>& actors,
                                      const caf::node_id& id) {
  for (std::size_t n = 0; n < actors.size(); ++n)
    if (actors[n] && actors[n].node() == id)
      return n;
  return std::nullopt;
}

std::string name_nodes(std::string text, const std::vector<caf::actor>& actors,
                       const std::vector<node_endpoint>& nodes) {
  for (std::size_t n = 0; n < actors.size(); ++n) {
    if (!actors[n])
      continue;
    auto id = caf::to_string(actors[n].node());
    for (auto at = text.find(id); at != std::string::npos; at = text.find(id, at))
      text.replace(at, id.size(), nodes[n].name());
  }
  return text;
}

}  // namespace recflow
