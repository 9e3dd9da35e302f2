// `recflow serve`: answer HTTP/JSON queries from a saved model until SIGINT or SIGTERM, with
// GET /metrics (Prometheus) and the dashboard beside them.
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/serve_options.hpp"
#include "recflow/job/stop_signals.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/monitor.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::cli {

namespace {

struct serve_cli_options {
  std::string model;
  std::string listen = "127.0.0.1:8080";
  serve_tuning tuning;
};

int run_serve(const serve_cli_options& o) {
  stop_signals signals;  // before any thread starts
  auto where = serve::parse_listen(o.listen);
  if (!where)
    return report(where.err());
  auto svc_opts = o.tuning.service();
  if (auto ok = serve::validate(svc_opts); !ok)
    return report(ok.err());
  model_metadata meta;
  auto m = load_model(o.model, meta);
  if (!m)
    return report(m.err());
  auto http = o.tuning.http(*where);
  if (!http)
    return report(http.err());
  auto entries = meta.entries;
  entries.emplace_back("file", o.model);  // GET /model shows it only with --model-paths
  serve::query_service svc(svc_opts, std::move(entries));
  auto model = std::make_shared<const factor_model>(std::move(*m));
  std::uint64_t version = 0;
  if (auto b = meta.get("batches"))
    version = std::strtoull(b->c_str(), nullptr, 10);
  svc.publish(model, version);
  // GET /metrics and the dashboard: query latency and traffic; no stream trains here.
  serve::live_monitor monitor;
  // The dashboard names the model file, not its folder, unless --model-paths.
  monitor.set_info("model", o.tuning.model_paths ? o.model : std::filesystem::path(o.model).filename().string());
  monitor.set_info("rank", std::to_string(model->rank()));
  monitor.watch(&svc);
  monitor.finish(std::nullopt, std::nullopt);
  auto server = serve::http_server::start({.queries = &svc, .monitor = &monitor}, *http);
  if (!server)
    return report(server.err());
  std::cout << fmt::format("serving {} (rank {}, {} users, {} items, version {}) on http://{}\n",
                           o.model, model->rank(), model->n_users(), model->n_items(), version,
                           (*server)->address())
            << std::flush;
  std::cerr << "recflow: listening on " << (*server)->address() << std::endl;
  signals.wait(std::chrono::milliseconds(-1));
  (*server)->stop();
  std::cout << fmt::format("stopped: {} requests answered, {} rejected\n", svc.answered(200),
                           svc.answered(400) + svc.answered(500));
  return exit_ok;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<serve_cli_options>();
  auto* cmd = app.add_subcommand(
    "serve", "Answer HTTP/JSON queries (predict, recommend, similar, ratings) from a saved model");
  cmd->add_option("--model", o->model, "Model file (from batch/stream --save)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")
    ->capture_default_str();
  o->tuning.add_to(*cmd);
  cmd->callback([o, &exit_status] { exit_status = run_serve(*o); });
}

}  // namespace recflow::cli
