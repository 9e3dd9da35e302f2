// `recflow node --listen HOST:PORT`: a worker process that hosts the factor owners a
// driver (`recflow stream --nodes ...`) deploys to it, over CAF's middleman. Runs until
// SIGINT or SIGTERM; a driver that disconnects only ends its own job.
#include <csignal>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "recflow/engine/node_host.hpp"

namespace recflow::cli {

namespace {

struct node_cli_options {
  std::string listen = "127.0.0.1:4242";
  std::size_t workers = 2;
};

int run_node(const node_cli_options& o) {
  // "host:0" asks for any free port: parse it with a placeholder port, then put 0 back.
  auto colon = o.listen.rfind(':');
  bool any_port = colon != std::string::npos && o.listen.substr(colon + 1) == "0";
  auto ep = parse_endpoint(any_port ? o.listen.substr(0, colon) + ":1" : o.listen);
  if (!ep)
    return report(ep.err());
  if (any_port)
    ep->port = 0;
  // Signals are taken by sigwait on this thread: block them before the node starts its
  // threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto host = node_host::start({.listen = *ep, .workers = o.workers});
  if (!host)
    return report(host.err());
  std::cout << fmt::format("recflow node listening on {} (protocol {}, {} workers)",
                           (*host)->address().name(), (*host)->protocol(), (*host)->workers())
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*host)->log(sig == SIGINT ? "SIGINT received" : "SIGTERM received");
  (*host)->stop();
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
