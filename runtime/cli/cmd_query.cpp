// `recflow predict` and `recflow recommend`: answer queries from a saved model by
// external ids.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/recommend.hpp"

namespace recflow::cli {

namespace {

const char* source_name(prediction_source s) {
  switch (s) {
    case prediction_source::full: return "model";
    case prediction_source::user_bias: return "user bias (unknown item)";
    case prediction_source::item_bias: return "item bias (unknown user)";
    case prediction_source::mean: return "global mean (unknown user and item)";
  }
  return "?";
}

struct predict_options {
  std::string model;
  std::int64_t user = 0;
  std::int64_t item = 0;
  bool json = false;
};

int run_predict(const predict_options& o) {
  auto m = load_model(o.model);
  if (!m)
    return report(m.err());
  prediction_source src{};
  double p = m->predict_external(o.user, o.item, &src);
  std::cout << fmt::format("user {} item {}: predicted rating {:.4f} (from {})\n", o.user,
                           o.item, p, source_name(src));
  if (o.json)
    print_json({{"command", "predict"}, {"user", o.user}, {"item", o.item}, {"prediction", p},
                {"source", source_name(src)}, {"known", src == prediction_source::full}});
  return exit_ok;
}

struct recommend_cli_options {
  std::string model;
  std::int64_t user = 0;
  std::size_t n = 10;
  bool include_rated = false;
  bool json = false;
};

int run_recommend(const recommend_cli_options& o) {
  auto m = load_model(o.model);
  if (!m)
    return report(m.err());
  auto u = m->users().find(o.user);
  bool known = m->user_known(u);
  recommend_options ro;
  ro.n = o.n;
  ro.exclude_rated = !o.include_rated;
  auto top = recommend(*m, u, ro);
  if (!known)
    std::cout << fmt::format("user {} is not in the model: recommending the items rated "
                             "highest overall (mu + item bias)\n", o.user);
  std::cout << fmt::format("top {} for user {}:\n", top.size(), o.user);
  nlohmann::json items = nlohmann::json::array();
  for (std::size_t k = 0; k < top.size(); ++k) {
    double shown = m->scale().clamp(top[k].score);
    std::cout << fmt::format("{:>4}. item {:<10} predicted {:.3f}\n", k + 1, top[k].external_id,
                             shown);
    items.push_back({{"item", top[k].external_id}, {"prediction", shown}, {"score", top[k].score}});
  }
  if (o.json)
    print_json({{"command", "recommend"}, {"user", o.user}, {"known_user", known},
                {"items", items}});
  return exit_ok;
}

struct info_options {
  std::string model;
  bool json = false;
};

int run_info(const info_options& o) {
  auto info = read_model_info(o.model);
  if (!info)
    return report(info.err());
  std::cout << fmt::format("{}: recflow model format {}, {} bytes\n", o.model,
                           info->format_version, info->file_size);
  std::cout << fmt::format("rank {}, {} users, {} items, mu {:.4f} over {} ratings, scale "
                           "{}..{}, rated-items index {}\n",
                           info->rank, info->n_users, info->n_items, info->mu, info->mu_count,
                           info->scale.min, info->scale.max,
                           info->has_rated_index ? "yes" : "no");
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : info->metadata.entries) {
    std::cout << fmt::format("  {} = {}\n", k, v);
    meta[k] = v;
  }
  if (o.json)
    print_json({{"command", "info"}, {"format_version", info->format_version},
                {"rank", info->rank}, {"users", info->n_users}, {"items", info->n_items},
                {"mu", info->mu}, {"bytes", info->file_size}, {"metadata", meta}});
  return exit_ok;
}

}  // namespace

void add_query_commands(CLI::App& app, int& exit_status) {
  auto po = std::make_shared<predict_options>();
  auto* pc = app.add_subcommand("predict", "Predict one rating from a saved model");
  pc->add_option("--model", po->model, "Model file (from batch or stream --save)")->required();
  pc->add_option("--user", po->user, "External user id")->required();
  pc->add_option("--item", po->item, "External item id")->required();
  pc->add_flag("--json", po->json, "Print a JSON summary as the last line of stdout");
  pc->callback([po, &exit_status] { exit_status = run_predict(*po); });

  auto ro = std::make_shared<recommend_cli_options>();
  auto* rc = app.add_subcommand("recommend", "Top-N items for a user from a saved model");
  rc->add_option("--model", ro->model, "Model file (from batch or stream --save)")->required();
  rc->add_option("--user", ro->user, "External user id")->required();
  rc->add_option("-n,--count", ro->n, "How many items")->capture_default_str()
    ->check(CLI::PositiveNumber);
  rc->add_flag("--include-rated", ro->include_rated, "Also recommend items the user rated");
  rc->add_flag("--json", ro->json, "Print a JSON summary as the last line of stdout");
  rc->callback([ro, &exit_status] { exit_status = run_recommend(*ro); });

  auto io = std::make_shared<info_options>();
  auto* ic = app.add_subcommand("info", "Check a saved model and print what it holds");
  ic->add_option("--model", io->model, "Model file")->required();
  ic->add_flag("--json", io->json, "Print a JSON summary as the last line of stdout");
  ic->callback([io, &exit_status] { exit_status = run_info(*io); });
}

}  // namespace recflow::cli
