// config/recflow.toml documents every default: check it says what the code does.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <string>

#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/stream_job.hpp"
#include "cli/stream_options.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "recflow/model/als.hpp"
#include "recflow/job/implicit_job.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/stream_eval.hpp"
#include "recflow/model/streaming.hpp"
#include "recflow/tune/tune.hpp"

namespace {

/// section -> key -> value text, from the uncommented `key = value` lines of the file.
std::map<std::string, std::map<std::string, std::string>> read_toml(const std::string& path) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::ifstream in(path);
  REQUIRE(in);
  std::string line, section;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    auto trim = [](std::string s) {
      auto b = s.find_first_not_of(" \t\"");
      auto e = s.find_last_not_of(" \t\"");
      return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty())
      continue;
    if (line.front() == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    auto eq = line.find('=');
    REQUIRE(eq != std::string::npos);
    out[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

double num(const std::map<std::string, std::string>& s, const std::string& key) {
  INFO("key " << key);
  REQUIRE(s.count(key) == 1);
  return std::stod(s.at(key));
}

}  // namespace

TEST_CASE("config: recflow.toml states the compiled-in defaults", "[cli]") {
  auto toml = read_toml(std::string(RECFLOW_SOURCE_DIR) + "/config/recflow.toml");
  const auto& b = toml.at("batch");
  recflow::als_params als;
  CHECK(num(b, "rank") == als.rank);
  CHECK(num(b, "iterations") == als.iterations);
  CHECK(num(b, "lambda") == als.lambda);
  CHECK(num(b, "lambda-bias") == als.lambda_bias);
  CHECK(num(b, "lambda-exponent") == als.lambda_exponent);
  CHECK(num(b, "init-stddev") == als.init_stddev);
  CHECK(b.at("unweighted") == (als.weighted_lambda ? "false" : "true"));
  CHECK(num(b, "seed") == als.seed);
  recflow::implicit_params implicit;
  CHECK(b.at("implicit") == "false");
  CHECK(num(b, "alpha") == implicit.alpha);
  CHECK(num(b, "cg-steps") == implicit.cg_steps);
  CHECK(num(b, "epsilon") == implicit.epsilon);
  CHECK(b.at("solver") == recflow::to_string(implicit.solver));
  CHECK(b.at("confidence") == recflow::to_string(implicit.confidence));
  CHECK(num(b, "recency-boost") == implicit.recency_boost);
  CHECK(num(b, "recency-half-life") == implicit.recency_half_life);
  CHECK(b.at("weighting") == recflow::to_string(implicit.weighting));
  CHECK(num(b, "bm25-k1") == implicit.bm25_k1);
  CHECK(num(b, "bm25-b") == implicit.bm25_b);
  CHECK(num(b, "missing-exponent") == implicit.missing_exponent);
  CHECK(num(b, "negatives") == static_cast<double>(recflow::sampled_ranking_options{}.negatives));
  recflow::ranking_options ranking;
  for (const char* section : {"batch", "stream", "compare"}) {
    INFO("section " << section);
    CHECK(num(toml.at(section), "ranking-k") == static_cast<double>(ranking.k));
    CHECK(num(toml.at(section), "relevance") == ranking.relevance);
  }
  recflow::als_graph_options graph;
  CHECK(num(b, "workers") == static_cast<double>(graph.workers));
  CHECK(num(b, "partitions") == static_cast<double>(graph.partitions));
  CHECK(b.at("nodes").empty());  // no nodes: the blocks run in this process
  CHECK(b.at("explain") == "false");

  const auto& s = toml.at("stream");
  recflow::stream_params sp;
  recflow::stream_eval_options eo;
  CHECK(num(s, "rank") == sp.rank);
  CHECK(num(s, "passes") == sp.passes);
  CHECK(num(s, "gamma") == sp.gamma);
  CHECK(num(s, "gamma-bias") == sp.gamma_bias);
  CHECK(num(s, "lambda") == sp.lambda);
  CHECK(num(s, "lambda-bias") == sp.lambda_bias);
  CHECK(num(s, "max-step") == sp.max_step);
  CHECK(num(s, "init-stddev") == sp.init_stddev);
  CHECK(num(s, "batch-size") == static_cast<double>(eo.batch_size));
  CHECK(num(s, "seed") == sp.seed);
  recflow::stream_job_options job;
  CHECK(num(s, "workers") == static_cast<double>(job.engine.workers));
  CHECK(num(s, "partitions") == static_cast<double>(job.partitions));
  CHECK(s.at("partitioner") == recflow::to_string(job.partitioner));
  CHECK(s.at("nodes").empty());  // no nodes: the local engine
  CHECK(std::holds_alternative<recflow::in_process>(job.where));
  CHECK(s.at("explain") == "false");
  CHECK(s.at("recover") == (recflow::on_nodes{}.recover ? "true" : "false"));
  CHECK(s.at("mode") == (sp.mode == recflow::update_mode::batch_gradient ? "batch-gradient" : "sgd"));
  recflow::cli::source_cli_options src;
  CHECK(num(s, "checkpoint-every") == static_cast<double>(src.checkpoint_every));
  CHECK(num(s, "checkpoint-keep") == static_cast<double>(src.checkpoint_keep));
  CHECK(s.at("resume") == (src.resume ? "true" : "false"));
  CHECK(num(s, "batch-interval") == src.spec.batch_interval);
  CHECK(num(s, "idle-timeout") == src.spec.idle_timeout);
  CHECK(num(s, "replay-speed") == src.spec.replay_speed);
  CHECK(s.at("redis-group") == src.spec.redis_group);
  CHECK(s.at("redis-consumer") == src.spec.redis_consumer);
  CHECK(num(s, "redis-reconnect-limit") == src.spec.redis_reconnect_limit);
  CHECK(num(s, "redis-claim-idle") == src.spec.redis_claim_idle);
  CHECK(num(s, "redis-dead-letter-max") == static_cast<double>(src.spec.redis_dead_letter_max));
  CHECK(num(s, "tcp-max-line") == static_cast<double>(src.spec.tcp_max_line));
  CHECK(num(s, "tcp-connect-timeout") == src.spec.tcp_connect_timeout);
  CHECK(num(s, "tcp-read-timeout") == src.spec.tcp_read_timeout);

  const auto& t = toml.at("tune");
  recflow::tune_options tune;
  CHECK(t.at("search") == recflow::to_string(tune.search));
  CHECK(num(t, "trials") == static_cast<double>(tune.trials));
  CHECK(num(t, "grid-points") == tune.grid_points);
  CHECK(num(t, "eta") == tune.eta);
  CHECK(num(t, "brackets") == tune.brackets);
  CHECK(t.at("sample") == (tune.sample_grid ? "grid" : "random"));
  CHECK(num(t, "seed") == static_cast<double>(tune.seed));
  CHECK(num(t, "iterations") == als.iterations);
  recflow::serve::http_options http;
  recflow::serve::service_options service;
  for (const char* section : {"serve", "stream"}) {
    INFO("section " << section);
    const auto& v = toml.at(section);
    CHECK(num(v, "serve-threads") == static_cast<double>(http.threads));
    CHECK(num(v, "max-body") == static_cast<double>(http.max_body));
    CHECK(num(v, "max-n") == static_cast<double>(service.max_n));
    CHECK(num(v, "fold-in-lambda") == service.fold_in.lambda);
    CHECK(num(v, "fold-in-lambda-bias") == service.fold_in.lambda_bias);
    CHECK(v.at("token-reads") == "false");
    CHECK(v.at("model-paths") == (service.show_paths ? "true" : "false"));
    CHECK(num(v, "max-posted-users") == static_cast<double>(service.max_posted_users));
    CHECK(num(v, "max-posted-per-user") == static_cast<double>(service.max_posted_per_user));
    CHECK(num(v, "max-pending") == static_cast<double>(service.max_pending));
    CHECK(num(v, "max-new-ids-per-minute") == static_cast<double>(service.max_new_ids_per_minute));
    CHECK(num(v, "max-connections-per-client") == static_cast<double>(http.max_connections_per_client));
    CHECK(num(v, "http-idle-timeout") * 1000 == static_cast<double>(http.idle_timeout.count()));
    CHECK(num(v, "http-header-timeout") * 1000 == static_cast<double>(http.header_timeout.count()));
    CHECK(num(v, "http-request-timeout") * 1000 == static_cast<double>(http.request_timeout.count()));
  }
  CHECK(toml.at("serve").at("listen") == "127.0.0.1:8080");
  CHECK(num(s, "serve-linger") == -1.0);
  CHECK(s.at("training-nice") == "idle");  // cmd_stream.cpp's default
  CHECK(num(s, "publish-interval") == double(recflow::stream_job_options{}.publish_interval.count()));
}
