/// The ranking options the evaluating commands share, and how they print the metrics.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recflow/model/ranking.hpp"

namespace recflow::cli {

/// Registers `--ranking-k` and `--relevance` on a subcommand.
inline void add_ranking_options(CLI::App& cmd, ranking_options& o) {
  cmd.add_option("--ranking-k", o.k,
                 "Length of the top-k lists scored by precision/recall/NDCG/MAP@k")
    ->capture_default_str();
  cmd.add_option("--relevance", o.relevance,
                 "A held-out rating >= this is relevant for the ranking metrics")
    ->capture_default_str();
}

/// "precision@10 0.0512  recall@10 0.0321  ndcg@10 0.0610  map@10 0.0254 (598 users)".
inline std::string ranking_text(const ranking_metrics& m) {
  return fmt::format("precision@{0} {1:.4f}  recall@{0} {2:.4f}  ndcg@{0} {3:.4f}  "
                     "map@{0} {4:.4f} ({5} users)",
                     m.k, m.precision, m.recall, m.ndcg, m.map, m.users);
}

/// Adds precision_at_k, recall_at_k, ndcg_at_k, map_at_k, k and ranking_users to `j`.
inline void add_ranking_json(nlohmann::json& j, const ranking_metrics& m) {
  j["precision_at_k"] = m.precision;
  j["recall_at_k"] = m.recall;
  j["ndcg_at_k"] = m.ndcg;
  j["map_at_k"] = m.map;
  j["k"] = m.k;
  j["ranking_users"] = m.users;
}

}  // namespace recflow::cli
