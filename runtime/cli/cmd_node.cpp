// `recflow node --listen HOST:PORT`: a worker process that hosts the factor owners a
// driver (`recflow stream --nodes ...`) deploys to it, over CAF's middleman. Runs until
// SIGINT or SIGTERM; a driver that disconnects only ends its own job.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>

#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"
#include "recflow/actors/node.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "recflow/engine/cluster_engine.hpp"

namespace recflow::cli {

namespace {

struct node_cli_options {
  std::string listen = "127.0.0.1:4242";
  std::size_t workers = 2;
};

int run_node(const node_cli_options& o) {
  if (o.workers == 0)
    return report({errc::invalid_argument, "workers must be positive, got 0"});
  // "host:0" asks for any free port: parse it with a placeholder port, then put 0 back.
  auto colon = o.listen.rfind(':');
  bool any_port = colon != std::string::npos && o.listen.substr(colon + 1) == "0";
  auto ep = parse_endpoint(any_port ? o.listen.substr(0, colon) + ":1" : o.listen);
  if (!ep)
    return report(ep.err());
  if (any_port)
    ep->port = 0;
  // Signals are taken by sigwait on this thread: block them before CAF starts its threads,
  // which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system_config cfg;
  add_graph_message_types(cfg);
  add_cluster_message_types(cfg);
  configure_cluster_middleman(cfg);
  cfg.set("scheduler.max-threads", o.workers);
  caf::actor_system sys{cfg};
  // Log lines name the node by the address it listens on (known once published).
  auto log_mutex = std::make_shared<std::mutex>();
  auto where = std::make_shared<std::string>(o.listen);
  auto log = [log_mutex, where](const std::string& line) {
    std::lock_guard<std::mutex> lock(*log_mutex);
    std::cerr << "recflow node " << *where << ": " << line << std::endl;
  };
  // RECFLOW_NODE_PROTOCOL makes the node claim another protocol version (for tests of
  // the refusal; not an option, as no user should need it).
  std::uint32_t protocol = cluster_protocol_version;
  if (const char* v = std::getenv("RECFLOW_NODE_PROTOCOL"))
    protocol = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
  auto node = spawn_node(sys, {.name = "", .log = log, .protocol = protocol});
  auto port = sys.middleman().publish(node, ep->port, ep->host.c_str(), true);
  if (!port) {
    caf::anon_send(node, stop_node_atom::value);
    return report({errc::io, "cannot listen on " + o.listen + ": " + sys.render(port.error())});
  }
  {
    std::lock_guard<std::mutex> lock(*log_mutex);
    *where = fmt::format("{}:{}", ep->host, *port);
  }
  std::cout << fmt::format("recflow node listening on {}:{} (protocol {}, {} workers)",
                           ep->host, *port, protocol, o.workers)
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log(sig == SIGINT ? "SIGINT received" : "SIGTERM received");
  caf::anon_send(node, stop_node_atom::value);
  sys.middleman().unpublish(node, *port);
  return exit_ok;
}

}  // namespace

void add_node_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<node_cli_options>();
  auto* cmd = app.add_subcommand(
    "node", "Run a worker node that hosts factor owners for `recflow stream --nodes` drivers");
  cmd->add_option("--listen", o->listen,
                  "HOST:PORT to listen on (port 0: any free port, printed at start)")
    ->capture_default_str();
  cmd->add_option("--workers", o->workers, "Actor scheduler threads")->capture_default_str();
  cmd->callback([o, &exit_status] { exit_status = run_node(*o); });
}

}  // namespace recflow::cli
