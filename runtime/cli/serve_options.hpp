/// Options shared by `recflow serve` and `recflow stream --serve`.
#pragma once

#include <CLI/CLI.hpp>

#include "recflow/serve/http_server.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"

namespace recflow::cli {

struct serve_tuning {
  std::size_t threads = 1;
  std::size_t max_body = 1 << 20;
  std::size_t max_n = 1000;
  double fold_in_lambda = fold_in_params{}.lambda;
  double fold_in_lambda_bias = fold_in_params{}.lambda_bias;

  /// Adds --serve-threads, --max-body, --max-n, --fold-in-lambda, --fold-in-lambda-bias.
  void add_to(CLI::App& cmd) {
    cmd.add_option("--serve-threads", threads, "Threads answering HTTP requests")->capture_default_str();
    cmd.add_option("--max-body", max_body, "Largest request body in bytes (larger: 413)")
      ->capture_default_str();
    cmd.add_option("--max-n", max_n, "Largest n of /recommend and /similar")->capture_default_str();
    cmd.add_option("--fold-in-lambda", fold_in_lambda,
                   "Fold-in factor regularisation (times n^0.5 for n ratings)")
      ->capture_default_str();
    cmd.add_option("--fold-in-lambda-bias", fold_in_lambda_bias,
                   "Fold-in bias regularisation (times n^0.5)")
      ->capture_default_str();
  }
  serve::service_options service() const {
    serve::service_options s;
    s.max_n = max_n;
    s.fold_in.lambda = fold_in_lambda;
    s.fold_in.lambda_bias = fold_in_lambda_bias;
    return s;
  }
  serve::http_options http(const serve::listen_address& a) const {
    return {.host = a.host, .port = a.port, .threads = threads, .max_body = max_body};
  }
};

}  // namespace recflow::cli
