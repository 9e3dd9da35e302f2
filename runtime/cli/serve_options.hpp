/// Options shared by `recflow serve` and `recflow stream --serve`.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "recflow/serve/http_access.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::cli {

/// Who may use an HTTP server: a bearer token and the Host allow-list (--token-file,
/// --token-reads, --allow-host). `recflow serve`, `stream --serve/--metrics`, `node
/// --metrics` and `batch --metrics` take them from here.
struct http_access_options {
  std::string token_file;                ///< the bearer token's file; empty: no token
  bool token_reads = false;              ///< the token for reads too
  std::vector<std::string> allow_hosts;  ///< Host names allowed; empty: the defaults; "*": any

  void add_to(CLI::App& cmd) {
    cmd.add_option("--token-file", token_file,
                   "File holding a bearer token that writes (POST) must send as "
                   "'Authorization: Bearer TOKEN' (else 401; on the --metrics server of node "
                   "and batch, every request); without it, no token");
    cmd.add_flag("--token-reads", token_reads, "With --token-file: reads (GET) need the token too");
    cmd.add_option("--allow-host", allow_hosts,
                   "Host a request may name (repeatable; else 403). Default: the listen host, "
                   "localhost, 127.0.0.1 and [::1]; '*': any. A Host that is the address the "
                   "connection arrived on is always allowed");
  }
  /// Whether any of the options was given.
  bool given() const { return !token_file.empty() || token_reads || !allow_hosts.empty(); }
  /// Turns the Host check on and sets the token (read from its file) in `o`. On a server
  /// that only reads (`metrics_only`: /metrics and the dashboard), a token guards reads.
  result<void> apply(serve::http_options& o, bool metrics_only = false) const {
    o.access.check_host = true;
    o.access.allowed_hosts = allow_hosts;
    o.access.token_reads = token_reads || (metrics_only && !token_file.empty());
    if (token_reads && token_file.empty())
      return error{errc::invalid_argument, "--token-reads needs --token-file"};
    if (!token_file.empty()) {
      auto token = serve::read_token_file(token_file);
      if (!token)
        return error{token.err().code, "--token-file: " + token.err().message};
      o.access.token = std::move(*token);
    }
    return {};
  }
};

/// The HTTP options of a `--metrics` server of its own (`recflow node`, `recflow batch`):
/// `access` applied, the token guarding reads. An error if `access` is given without
/// `--metrics` (`metrics` empty), or if the token file cannot be read.
inline result<void> metrics_access(const std::string& metrics, const http_access_options& access,
                                   serve::http_options& out) {
  if (!metrics.empty())
    return access.apply(out, true);
  if (access.given())
    return error{errc::invalid_argument, "--token-file, --token-reads and --allow-host need --metrics"};
  return {};
}

struct serve_tuning {
  std::size_t threads = 1;
  std::size_t query_threads = serve::http_options{}.query_threads;
  std::size_t max_body = 1 << 20;
  std::size_t max_n = 1000;
  double fold_in_lambda = fold_in_params{}.lambda;
  double fold_in_lambda_bias = fold_in_params{}.lambda_bias;
  // Access and bounds (docs/security.md).
  http_access_options access;
  bool model_paths = false;          ///< GET /model shows file paths
  std::size_t max_posted_users = serve::service_options{}.max_posted_users;
  std::size_t max_posted_per_user = serve::service_options{}.max_posted_per_user;
  std::size_t max_pending = serve::service_options{}.max_pending;
  std::size_t max_new_ids_per_minute = serve::service_options{}.max_new_ids_per_minute;
  std::size_t max_connections_per_client = serve::http_options{}.max_connections_per_client;
  double idle_timeout = seconds(serve::http_options{}.idle_timeout);
  double header_timeout = seconds(serve::http_options{}.header_timeout);
  double request_timeout = seconds(serve::http_options{}.request_timeout);

  /// Adds --serve-threads, --query-threads, --max-body, --max-n, --fold-in-lambda, --fold-in-lambda-bias,
  /// and the access options and bounds (--token-file, --token-reads, --allow-host,
  /// --model-paths, --max-posted-users, ...).
  void add_to(CLI::App& cmd) {
    cmd.add_option("--serve-threads", threads, "Threads running the HTTP connections")
      ->capture_default_str();
    cmd.add_option("--query-threads", query_threads,
                   "Threads answering queries and posts (fold-in, top-N) apart from the HTTP "
                   "threads, so a slow one holds no connection; 0: the HTTP threads answer them")
      ->capture_default_str();
    cmd.add_option("--max-body", max_body, "Largest request body in bytes (larger: 413)")
      ->capture_default_str();
    cmd.add_option("--max-n", max_n, "Largest n of /recommend and /similar")->capture_default_str();
    cmd.add_option("--fold-in-lambda", fold_in_lambda,
                   "Fold-in factor regularisation (times n^0.5 for n ratings)")
      ->capture_default_str();
    cmd.add_option("--fold-in-lambda-bias", fold_in_lambda_bias,
                   "Fold-in bias regularisation (times n^0.5)")
      ->capture_default_str();
    access.add_to(cmd);
    cmd.add_flag("--model-paths", model_paths, "GET /model shows the model's file paths");
    cmd.add_option("--max-posted-users", max_posted_users,
                   "Users kept with their POSTed ratings; past it the least recently posted "
                   "is forgotten (0: no bound)")
      ->capture_default_str();
    cmd.add_option("--max-posted-per-user", max_posted_per_user,
                   "POSTed ratings kept per user, the newest (0: no bound)")
      ->capture_default_str();
    cmd.add_option("--max-pending", max_pending,
                   "POSTed ratings waiting for training; more: 503 with Retry-After (0: no bound)")
      ->capture_default_str();
    cmd.add_option("--max-new-ids-per-minute", max_new_ids_per_minute,
                   "Users and items unknown to the model accepted per minute by POST; more: "
                   "429 with Retry-After (0: no bound)")
      ->capture_default_str();
    cmd.add_option("--max-connections-per-client", max_connections_per_client,
                   "HTTP connections open at once from one address; more are closed")
      ->capture_default_str();
    cmd.add_option("--http-idle-timeout", idle_timeout,
                   "Seconds a keep-alive connection may wait before its next request")
      ->capture_default_str();
    cmd.add_option("--http-header-timeout", header_timeout,
                   "Seconds from a request's first byte to the end of its headers")
      ->capture_default_str();
    cmd.add_option("--http-request-timeout", request_timeout,
                   "Seconds from a request's first byte to the end of its body")
      ->capture_default_str();
  }
  serve::service_options service() const {
    serve::service_options s;
    s.max_n = max_n;
    s.fold_in.lambda = fold_in_lambda;
    s.fold_in.lambda_bias = fold_in_lambda_bias;
    s.max_posted_users = max_posted_users;
    s.max_posted_per_user = max_posted_per_user;
    s.max_pending = max_pending;
    s.max_new_ids_per_minute = max_new_ids_per_minute;
    s.show_paths = model_paths;
    return s;
  }
  /// The server's options at `a`; reads the token file. The Host check is on.
  result<serve::http_options> http(const serve::listen_address& a) const {
    serve::http_options o{.host = a.host, .port = a.port, .threads = threads,
                          .query_threads = query_threads, .max_body = max_body};
    o.max_connections_per_client = max_connections_per_client;
    o.idle_timeout = millis(idle_timeout);
    o.header_timeout = millis(header_timeout);
    o.request_timeout = millis(request_timeout);
    if (auto ok = access.apply(o); !ok)
      return ok.err();
    return o;
  }

 private:
  static double seconds(std::chrono::milliseconds t) { return static_cast<double>(t.count()) / 1000.0; }
  static std::chrono::milliseconds millis(double s) {
    // Out of range or not a number: 0, which validate() refuses with a message.
    if (!(s > 0) || s > 1e9)
      return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(s * 1000)));
  }
};

}  // namespace recflow::cli
