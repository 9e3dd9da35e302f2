// `recflow batch`: train batch ALS, evaluate on held-out ratings, optionally save.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "cli/nodes_option.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/ranking_output.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/cluster_als.hpp"
#include "recflow/model/als.hpp"
#include "recflow/model/metrics.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/ranking.hpp"
#include "recflow/model/split.hpp"

namespace recflow::cli {

namespace {

struct batch_options {
  data_options data;
  als_params als;
  ranking_options ranking;
  std::string biases = "joint";
  bool unweighted = false;
  int folds = 0;
  std::string save;
  bool json = false;
  bool quiet = false;
  std::string engine = "local";
  als_graph_options graph;
  std::string nodes;     ///< --nodes host:port,...: the blocks on `recflow node` processes
  bool explain = false;  ///< --explain: print which node holds which blocks
  std::vector<node_endpoint> endpoints;  ///< parsed --nodes
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Trains on `train`, prints progress, evaluates on `test`.
result<factor_model> train_and_report(const batch_options& o, const rating_table& train,
                                      const char* label) {
  progress bar(fmt::format("{}batch ALS", label), static_cast<std::uint64_t>(o.als.iterations),
               "iterations", !o.quiet);
  std::string note;
  auto on_sweep = [&](int it, double rmse) {
    note = fmt::format("train rmse {:.4f}", rmse);
    bar.update(static_cast<std::uint64_t>(it), note);
  };
  auto on_graph_sweep = [&](const als_sweep_metrics& m) { on_sweep(m.iteration, m.train_rmse); };
  auto model = o.engine == "reference" ? train_als(train, o.als, on_sweep)
               : o.endpoints.empty()   ? train_als_graph(train, o.als, o.graph, on_graph_sweep)
                                       : train_als_cluster(train, o.als,
                                                           {.nodes = o.endpoints, .graph = o.graph},
                                                           on_graph_sweep);
  bar.finish(note);
  return model;
}

int run_batch(batch_options& o) {
  auto t0 = std::chrono::steady_clock::now();
  if (o.biases == "joint")
    o.als.biases = bias_mode::joint;
  else if (o.biases == "alternate")
    o.als.biases = bias_mode::alternate;
  else
    return report({errc::invalid_argument, "--biases must be joint or alternate, got '" + o.biases + "'"});
  o.als.weighted_lambda = !o.unweighted;
  if (o.engine != "local" && o.engine != "reference")
    return report({errc::invalid_argument, "--engine must be local or reference, got '" + o.engine + "'"});
  if (o.graph.partitions == 0)
    return report({errc::invalid_argument, "partition count must be positive, got 0"});
  if (o.graph.workers == 0)
    return report({errc::invalid_argument, "workers must be positive, got 0"});
  if (!o.nodes.empty()) {
    auto nodes = nodes_option(o.nodes, o.engine);
    if (!nodes)
      return report(nodes.err());
    o.endpoints = std::move(*nodes);
  }
  o.als.seed = o.data.seed;
  if (auto ok = validate(o.als); !ok)
    return report(ok.err());
  if (auto ok = validate(o.ranking); !ok)
    return report(ok.err());
  auto data = load_data(o.data);
  if (!data)
    return report(data.err());
  if (o.explain && !o.endpoints.empty())
    std::cout << explain_als_cluster({.nodes = o.endpoints, .graph = o.graph}) << std::flush;

  nlohmann::json summary;
  if (o.folds > 0) {
    // k-fold cross-validation over train and test together.
    if (o.folds < 2)
      return report({errc::invalid_argument, "--folds must be at least 2, got " + std::to_string(o.folds)});
    auto all = data->train.ratings;
    all.insert(all.end(), data->test.ratings.begin(), data->test.ratings.end());
    double se = 0.0, ae = 0.0;
    std::size_t n = 0, train_total = 0;
    nlohmann::json per_fold = nlohmann::json::array();
    ranking_metrics ranked;
    for (int f = 0; f < o.folds; ++f) {
      auto parts = k_fold(all, o.folds, f, o.data.seed);
      train_total += parts.train.size();
      auto train = data->train.with_ratings(std::move(parts.train));
      auto label = fmt::format("fold {}/{}: ", f + 1, o.folds);
      auto model = train_and_report(o, train, label.c_str());
      if (!model)
        return report(model.err());
      auto m = evaluate(*model, parts.test, train.users, train.items);
      std::cout << fmt::format("fold {}/{}  test rmse {:.4f}  mae {:.4f}  ({} ratings)\n", f + 1,
                               o.folds, m.rmse, m.mae, m.count);
      se += m.rmse * m.rmse * static_cast<double>(m.count);
      ae += m.mae * static_cast<double>(m.count);
      n += m.count;
      per_fold.push_back({{"rmse", m.rmse}, {"mae", m.mae}, {"test_ratings", m.count}});
      accumulate(ranked, evaluate_ranking(*model, parts.test, train.users, train.items, o.ranking));
    }
    double rmse = std::sqrt(se / static_cast<double>(n));
    double mae = ae / static_cast<double>(n);
    std::cout << fmt::format("{}-fold cross-validation: rmse {:.4f}  mae {:.4f}  {}\n", o.folds,
                             rmse, mae, ranking_text(ranked));
    summary = {{"rmse", rmse}, {"mae", mae}, {"folds", per_fold},
               {"train_ratings", train_total / static_cast<std::size_t>(o.folds)},
               {"test_ratings", n}};
    add_ranking_json(summary, ranked);
  } else {
    auto model = train_and_report(o, data->train, "");
    if (!model)
      return report(model.err());
    auto m = evaluate(*model, data->test);
    auto ranked = evaluate_ranking(*model, data->test, o.ranking);
    std::cout << fmt::format("batch ALS on {}: rank {}, {} iterations, lambda {}\n",
                             data->source, o.als.rank, o.als.iterations, o.als.lambda);
    std::cout << fmt::format("test rmse {:.4f}  mae {:.4f}  ({} train / {} test ratings, "
                             "{} users, {} items)\ntest ranking {}\n",
                             m.rmse, m.mae, data->train.size(), m.count, model->n_users(),
                             model->n_items(), ranking_text(ranked));
    if (!o.save.empty()) {
      model_metadata meta;
      meta.set("trainer", "batch-als");
      meta.set("recflow_version", RECFLOW_VERSION);
      meta.set("data", data->source);
      meta.set("rank", std::to_string(o.als.rank));
      meta.set("iterations", std::to_string(o.als.iterations));
      meta.set("lambda", fmt::format("{}", o.als.lambda));
      meta.set("lambda_bias", fmt::format("{}", o.als.lambda_bias));
      meta.set("weighted_lambda", o.als.weighted_lambda ? "true" : "false");
      meta.set("lambda_exponent", fmt::format("{}", o.als.lambda_exponent));
      meta.set("biases", o.biases);
      meta.set("engine", o.engine);
      meta.set("seed", std::to_string(o.als.seed));
      meta.set("test_rmse", fmt::format("{:.6f}", m.rmse));
      if (auto saved = save_model(*model, o.save, meta); !saved)
        return report(saved.err());
      std::cout << "saved model to " << o.save << '\n';
    }
    summary = {{"rmse", m.rmse}, {"mae", m.mae}, {"train_ratings", data->train.size()},
               {"test_ratings", m.count}, {"users", model->n_users()},
               {"items", model->n_items()}};
    add_ranking_json(summary, ranked);
    if (!o.save.empty())
      summary["model"] = o.save;
  }
  summary["command"] = "batch";
  summary["engine"] = o.engine;
  if (!o.endpoints.empty())
    summary["nodes"] = o.endpoints.size();
  summary["rank"] = o.als.rank;
  summary["iterations"] = o.als.iterations;
  summary["lambda"] = o.als.lambda;
  summary["seconds"] = seconds_since(t0);
  if (o.json)
    print_json(summary);
  return exit_ok;
}

}  // namespace

void add_batch_command(CLI::App& app, int& exit_status) {
  auto opts = std::make_shared<batch_options>();
  auto* cmd = app.add_subcommand("batch", "Train batch ALS (as Spark's ALS.train), evaluate, save");
  opts->data.add_to(*cmd);
  auto& p = opts->als;
  cmd->add_option("--rank,-k", p.rank, "Factor dimension")->capture_default_str();
  cmd->add_option("--iterations", p.iterations, "ALS sweeps (users then items)")->capture_default_str();
  cmd->add_option("--lambda", p.lambda, "Factor regularisation")->capture_default_str();
  cmd->add_option("--lambda-bias", p.lambda_bias, "Bias regularisation")->capture_default_str();
  cmd->add_option("--lambda-exponent", p.lambda_exponent,
                  "Regularisation is lambda * n^exponent for an entity with n ratings "
                  "(1 is Spark's ALS-WR)")
    ->capture_default_str();
  cmd->add_flag("--unweighted", opts->unweighted,
                "Do not scale lambda by each entity's rating count at all");
  cmd->add_option("--biases", opts->biases, "joint (augmented factors) or alternate")
    ->capture_default_str();
  cmd->add_option("--init-stddev", p.init_stddev, "Stddev of the seeded initial factors")
    ->capture_default_str();
  add_ranking_options(*cmd, opts->ranking);
  cmd->add_option("--engine", opts->engine,
                  "local (user and item blocks as actors, Spark's in/out blocks) or reference "
                  "(one thread); both give the same model")
    ->capture_default_str();
  cmd->add_option("--workers", opts->graph.workers, "Actor scheduler threads (--engine local)")
    ->capture_default_str();
  cmd->add_option("--partitions", opts->graph.partitions, "Blocks per side (--engine local)")
    ->capture_default_str();
  cmd->add_option("--nodes", opts->nodes,
                  "Run the user and item blocks on these `recflow node` processes "
                  "(host:port,host:port,...; round robin); the driver keeps the coordinator");
  cmd->add_flag("--explain", opts->explain, "With --nodes: print which node holds which blocks");
  cmd->add_option("--folds", opts->folds, "Run k-fold cross-validation over all ratings instead");
  cmd->add_option("--save", opts->save, "Write the trained model to this file");
  cmd->add_flag("--json", opts->json, "Print a JSON summary as the last line of stdout");
  cmd->add_flag("--quiet,-q", opts->quiet, "No per-iteration progress on stderr");
  cmd->callback([opts, &exit_status] { exit_status = run_batch(*opts); });
}

}  // namespace recflow::cli
