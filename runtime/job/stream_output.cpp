#include "recflow/job/stream_output.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

namespace recflow {

std::string csv_row(const stream_report& r) {
  auto errors = r.evaluated ? fmt::format("{:.6f},{:.6f}", r.rmse, r.mae) : std::string(",");
  return fmt::format("{},{},{},{:.6f},{:.6f}\n", r.batch, r.ratings_seen, errors,
                     r.batch_seconds, r.elapsed_seconds);
}

std::string error_text(const stream_report& r) {
  if (!r.evaluated)
    return "rmse -       mae -     ";
  return fmt::format("rmse {:.4f}  mae {:.4f}", r.rmse, r.mae);
}

result<stream_csv> stream_csv::open(const std::string& path, bool continues) {
  stream_csv c;
  c.path_ = path;
  std::error_code ec;
  c.trim_ = continues && std::filesystem::file_size(path, ec) > 0 && !ec;
  c.out_.open(path, c.trim_ ? std::ios::app : std::ios::trunc);
  if (!c.out_)
    return error{errc::io, path + ": cannot write the per-batch CSV"};
  if (!c.trim_)
    c.out_ << stream_csv_header;
  return c;
}

void stream_csv::write(const stream_report& r) {
  if (trim_) {  // rows a killed run wrote after its last checkpoint come again: drop them
    trim_ = false;
    out_.close();
    std::ifstream in(path_);
    std::string line, kept;
    while (std::getline(in, line)) {
      std::uint64_t batch = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), batch);
      if (ec != std::errc{} || batch < r.batch)  // the header, and rows before this batch
        kept += line + '\n';
    }
    in.close();
    out_.open(path_, std::ios::trunc);
    out_ << kept;
  }
  if (out_.is_open())
    out_ << csv_row(r);
}

stream_facts::timing stream_timing(const std::vector<stream_report>& reports, int passes) {
  stream_facts::timing t;
  double update_seconds = 0.0;
  std::vector<double> batch_seconds;
  for (const auto& r : reports) {
    update_seconds += r.batch_seconds;
    batch_seconds.push_back(r.batch_seconds);
  }
  if (update_seconds > 0 && !reports.empty())
    t.update_rate = static_cast<double>(reports.back().ratings_seen) * passes / update_seconds;
  t.stream_seconds = reports.empty() ? 0.0 : reports.back().elapsed_seconds;
  if (!batch_seconds.empty()) {  // the median
    auto mid = batch_seconds.begin() + std::ptrdiff_t(batch_seconds.size() / 2);
    std::nth_element(batch_seconds.begin(), mid, batch_seconds.end());
    t.median_batch_seconds = *mid;
  }
  return t;
}

model_metadata stream_metadata(const stream_facts& f) {
  model_metadata meta;
  meta.set("trainer", "stream");
  meta.set("recflow_version", RECFLOW_VERSION);
  meta.set("data", f.data);
  if (f.tracked) {
    const auto& mark = f.tracked->run->mark;
    meta.set("rank", std::to_string(f.params.rank));
    meta.set("passes", std::to_string(f.params.passes));
    meta.set("batch_size", std::to_string(f.batch_size));
    meta.set("batches", std::to_string(mark.batches));
    meta.set("ratings_applied", std::to_string(mark.ratings));
    meta.set("stream_position", mark.position);
    return meta;
  }
  const auto& p = f.params;
  meta.set("mode", f.mode);
  meta.set("engine", f.engine);
  meta.set("rank", std::to_string(p.rank));
  meta.set("passes", std::to_string(p.passes));
  meta.set("gamma", fmt::format("{}", p.gamma));
  meta.set("gamma_bias", fmt::format("{}", p.gamma_bias));
  meta.set("lambda", fmt::format("{}", p.lambda));
  meta.set("lambda_bias", fmt::format("{}", p.lambda_bias));
  meta.set("max_step", fmt::format("{}", p.max_step));
  meta.set("batch_size", std::to_string(f.batch_size));
  meta.set("batches", std::to_string(f.batches));
  meta.set("seed", std::to_string(p.seed));
  meta.set("validation_rmse", fmt::format("{:.6f}", f.final_metrics.rmse));
  if (!f.init_model.empty())
    meta.set("init_model", f.init_model);
  return meta;
}

namespace {

nlohmann::json or_null(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json();
}

}  // namespace

nlohmann::json stream_summary(const stream_facts& f) {
  nlohmann::json j{{"command", "stream"},
                   {"rmse", f.final_metrics.rmse},
                   {"mae", f.final_metrics.mae},
                   {"train_ratings", f.train_ratings},
                   {"test_ratings", f.final_metrics.count},
                   {"batches", f.batches},
                   {"batch_size", f.batch_size},
                   {"eval_every", f.eval_every},
                   {"passes", f.params.passes},
                   {"rank", f.params.rank},
                   {"engine", f.engine},
                   {"per_batch_csv", or_null(f.csv)},
                   {"seconds", f.seconds}};
  if (f.tracked) {
    const auto& run = *f.tracked->run;
    j["source"] = f.data;
    j["batches_this_run"] = run.reports.size();
    j["position"] = run.mark.position;
    j["dead_letters"] = f.tracked->dead_letters;
    j["posted_ratings"] = run.added_ratings;
    j["resumed_from"] = or_null(run.resumed_from);
    j["checkpoints_written"] = run.checkpoints_written.size();
    j["checkpoints_failed"] = run.checkpoints_failed;
  } else {
    j["nodes"] = f.nodes;
  }
  if (f.timed) {
    // The stream's wall time (updates and evaluations, not loading or the final
    // ranking), the final line's updates rate, the median batch.
    j["stream_seconds"] = f.timed->stream_seconds;
    j["update_rate"] = f.timed->update_rate;
    j["median_batch_seconds"] = f.timed->median_batch_seconds;
  }
  if (f.saved)
    j["model"] = *f.saved;
  return j;
}

}  // namespace recflow
