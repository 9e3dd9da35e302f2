// `recflow node --listen HOST:PORT --secret-file PATH`: a worker process that hosts the factor owners a
// driver (`recflow stream --nodes ...`) deploys to it, over CAF's middleman. Runs until
// SIGINT or SIGTERM, or until the driver of every job on it stops it; a driver that
// disconnects only ends its own job.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/nodes_option.hpp"
#include "cli/output.hpp"
#include "cli/serve_options.hpp"
#include "recflow/engine/node_host.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"

namespace recflow::cli {

namespace {

struct node_cli_options {
  std::string listen = "127.0.0.1:4242";
  std::size_t workers = 2;
  std::size_t max_message_mb = 1024;  ///< the longest message a peer may send
  std::string metrics;  ///< HOST:PORT: /metrics and the dashboard (the node's events)
  http_access_options access;  ///< --metrics: token and Host allow-list
  link_options link;    ///< --secret-file, TLS (--tls-*) or both, or else --insecure
};

/// --metrics: the node's events on the dashboard and as counters, and its settings.
struct node_metrics {
  serve::live_monitor monitor;
  std::unique_ptr<serve::http_server> server;  ///< after monitor: it serves it
  std::mutex mutex;
  std::string name;  ///< the node's address once it listens (under mutex: log lines read it)
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
  // The secret is read and the TLS files checked (modes too) before anything listens.
  auto secret = o.link.secret();
  if (!secret)
    return report(secret.err());
  serve::http_options http;
  if (auto ok = metrics_access(o.metrics, o.access, http); !ok)
    return report(ok.err());
  // Signals are taken by sigwait on this thread: block them before the node starts its
  // threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);  // from on_stopped: the node's driver stopped it
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  node_host_options hopts{.listen = *ep, .workers = o.workers, .secret = *secret,
                          .tls = o.link.tls,
                          .max_message_bytes = o.max_message_mb << 20,
                          .insecure = o.link.insecure,
                          .on_stopped = [] { ::kill(::getpid(), SIGUSR1); }};
  std::unique_ptr<node_metrics> metrics;
  if (!o.metrics.empty()) {
    metrics = std::make_unique<node_metrics>();
    metrics->name = o.listen;
    metrics->monitor.finish(std::nullopt, std::nullopt);  // a node trains nothing of its own
    auto server = serve::http_server::start_metrics(metrics->monitor, o.metrics, http);
    if (!server)
      return report(server.err());
    metrics->server = std::move(*server);
    hopts.log = [m = metrics.get()](const std::string& line) {
      {
        std::lock_guard lock(m->mutex);
        std::cerr << "recflow node " << m->name << ": " << line << std::endl;
      }
      m->monitor.on_event("node", line);
    };
  }
  auto host = node_host::start(hopts);
  if (!host)
    return report(host.err());
  if (metrics) {
    {
      std::lock_guard lock(metrics->mutex);
      metrics->name = (*host)->address().name();
    }
    metrics->monitor.set_info("node", (*host)->address().name());
    metrics->monitor.set_info("workers", std::to_string((*host)->workers()));
    metrics->monitor.set_info("protocol", std::to_string((*host)->protocol()));
  }
  std::cout << fmt::format("recflow node listening on {} (protocol {}, {} workers)",
                           (*host)->address().name(), (*host)->protocol(), (*host)->workers())
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*host)->log(sig == SIGINT    ? "SIGINT received"
               : sig == SIGTERM ? "SIGTERM received"
                                : "the driver of its jobs stopped it: exiting");
  (*host)->stop();
  if (metrics)
    metrics->server->stop();
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
  o->link.add(*cmd);
  cmd->add_option("--max-message-mb", o->max_message_mb,
                  "The longest message (MiB) a peer may send; a longer one closes its connection "
                  "before CAF reads it")
    ->check(CLI::Range(std::size_t{1}, std::size_t{4095}))
    ->capture_default_str();
  cmd->add_option("--metrics", o->metrics,
                  "HOST:PORT: serve GET /metrics (Prometheus) and a page of the node's events "
                  "(port 0: any free port; the address is printed on stderr)");
  o->access.add_to(*cmd);
  cmd->callback([o, &exit_status] { exit_status = run_node(*o); });
}

}  // namespace recflow::cli
