// Where a cluster job runs: node addresses, the options' checks and the placement of
// shards on nodes (cluster_engine.hpp declares them); no actor system needed.
#include "recflow/engine/cluster_engine.hpp"

#include <sstream>

#include "recflow/engine/link_secret.hpp"

namespace recflow {

result<node_endpoint> parse_endpoint(const std::string& text) {
  auto bad = error{errc::invalid_argument, "node address '" + text + "' is not host:port"};
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return bad;
  node_endpoint e;
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
    e.host = e.host.substr(1, e.host.size() - 2);
  unsigned long port = 0;
  for (auto c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return bad;
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535)
    return error{errc::invalid_argument, "node address '" + text + "': port must be 1..65535"};
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

result<std::vector<node_endpoint>> parse_endpoints(const std::string& list) {
  std::vector<node_endpoint> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      continue;
    auto e = parse_endpoint(item);
    if (!e)
      return e.err();
    out.push_back(*e);
  }
  if (out.empty())
    return error{errc::invalid_argument, "no nodes given (expected host:port,host:port,...)"};
  return out;
}

result<void> validate(const cluster_options& o) {
  if (o.nodes.empty())
    return error{errc::invalid_argument, "at least one node is needed"};
  if (o.connect_timeout.count() <= 0)
    return error{errc::invalid_argument, "connect timeout must be positive"};
  if (o.recover && o.checkpoint_every == 0)
    return error{errc::invalid_argument, "checkpoint interval must be positive, got 0"};
  if (auto ok = check_link_tls(o.tls); !ok)
    return ok;
  return validate(o.engine);
}

node_placement place_round_robin(std::size_t partitions, std::size_t nodes) {
  node_placement p;
  for (std::size_t s = 0; s < partitions; ++s)
    p.user_node.push_back(s % nodes);
  for (std::size_t t = 0; t < partitions; ++t)
    p.item_node.push_back((partitions + t) % nodes);
  return p;
}

node_placement replace_lost(const node_placement& p, const std::vector<bool>& alive) {
  auto out = p;
  std::vector<std::size_t> load(alive.size(), 0);
  for (auto* side : {&out.user_node, &out.item_node})
    for (auto n : *side)
      if (n < alive.size() && alive[n])
        ++load[n];
  for (auto* side : {&out.user_node, &out.item_node})
    for (auto& n : *side) {
      if (n < alive.size() && alive[n])
        continue;
      std::size_t best = alive.size();
      for (std::size_t k = 0; k < alive.size(); ++k)
        if (alive[k] && (best == alive.size() || load[k] < load[best]))
          best = k;
      if (best == alive.size())
        return out;  // no live node: the caller checks
      n = best;
      ++load[best];
    }
  return out;
}

std::string describe(const node_placement& p, const std::vector<node_endpoint>& nodes,
                     const std::string& driver) {
  std::string out;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    std::string users, items;
    for (std::size_t s = 0; s < p.user_node.size(); ++s)
      if (p.user_node[s] == n) {
        users.push_back(' ');  // (not " " + ...: GCC 12 warns falsely, bug 105329)
        users.append(std::to_string(s));
      }
    for (std::size_t t = 0; t < p.item_node.size(); ++t)
      if (p.item_node[t] == n) {
        items.push_back(' ');
        items.append(std::to_string(t));
      }
    out += "node " + nodes[n].name() + ": user shards" + (users.empty() ? " none" : users)
           + ", item shards" + (items.empty() ? " none" : items) + "\n";
  }
  out += "driver: " + driver + "\n";
  return out;
}

}  // namespace recflow
