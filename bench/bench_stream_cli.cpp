// `recflow stream` as users run it (validation after every batch, the default), the actor
// graph against the single-threaded reference engine, in the same run: the exact commands
// it runs are printed, and each figure is a ratio of the two.
//
//   ./bench_stream_cli                     # every configuration below, one round each
//   ./bench_stream_cli --rounds 3          # medians of three A/B rounds
//   ./bench_stream_cli --only 10000        # only the configurations with that batch size
//   ./bench_stream_cli --ratings 500000    # a smaller synthetic set (quick look)
//
// Configurations (the speed issue's): rank 50, 2 workers, a synthetic set of 2M ratings on
// 100,000 users x 20,000 items (written once to a temporary folder, 80/20 split), batches
// of 10,000 and 100,000 with 2 and 4 partitions and of 1,000 with 2; then the main job
// (`tools/dev.sh run`: MovieLens 100K, batches of 1,000, the defaults) for its median batch
// latency. Figures per run, from the command's --json line:
//  - stream_seconds: wall time of the stream (updates and evaluations): what a user waits;
//  - update_rate: the final line's "ratings x passes/s in updates" (the reference times its
//    updates alone; the graph times each batch from routing to completion, evaluation of
//    the batch before included, so this figure is pessimistic for the graph);
//  - seconds: the whole command (loading, stream, final ranking).
// The speedup is reference / graph for times, graph / reference for rates. Before each
// configuration it prints how much two threads reading factor rows get from the machine
// at that moment against one (machine_probe.hpp): the evaluation after every batch is
// such reads. On this shared VM the figure moved between 1.2 and 2.2 within one run.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "machine_probe.hpp"
#include "ratings_file.hpp"

namespace {

namespace fs = std::filesystem;

struct options {
  int rounds = 1;
  std::size_t only = 0;  ///< batch size; 0: all
  std::uint64_t ratings = 2'000'000;
  bool main_job = true;
};

options parse(int argc, char** argv) {
  options o;
  for (int a = 1; a < argc; ++a) {
    std::string k = argv[a];
    if (k == "--help" || k == "-h" || a + 1 >= argc) {
      std::printf("usage: bench_stream_cli [--rounds N] [--only BATCH] [--ratings N] "
                  "[--main-job 0|1]\n");
      std::exit(k == "--help" || k == "-h" ? 0 : 2);
    }
    std::string v = argv[++a];
    if (k == "--rounds") o.rounds = std::max(1, std::stoi(v));
    else if (k == "--only") o.only = std::stoull(v);
    else if (k == "--ratings") o.ratings = std::stoull(v);
    else if (k == "--main-job") o.main_job = v != "0";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return o;
}

/// Runs `cmd`, returns the JSON object on its last line of stdout (exits on failure).
nlohmann::json run_json(const std::string& cmd) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    std::fprintf(stderr, "cannot run %s\n", cmd.c_str());
    std::exit(1);
  }
  std::string out, last;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p))
    out += buf;
  int status = ::pclose(p);
  if (status != 0) {
    std::fprintf(stderr, "failed (status %d): %s\n%s", status, cmd.c_str(), out.c_str());
    std::exit(1);
  }
  auto end = out.find_last_not_of('\n');
  auto begin = out.rfind('\n', end);
  last = out.substr(begin == std::string::npos ? 0 : begin + 1, end + 1);
  return nlohmann::json::parse(last);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct figures {
  std::vector<double> stream_seconds, update_rate, seconds, median_batch;
  void add(const nlohmann::json& j) {
    stream_seconds.push_back(j.at("stream_seconds").get<double>());
    update_rate.push_back(j.at("update_rate").get<double>());
    seconds.push_back(j.at("seconds").get<double>());
    median_batch.push_back(j.at("median_batch_seconds").get<double>());
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  const std::string cli = RECFLOW_CLI_PATH;
  auto dir = fs::temp_directory_path() / fmt::format("recflow-bench-stream-{}", ::getpid());
  fs::create_directories(dir);
  auto data = (dir / "synthetic.csv").string();
  std::printf("writing %llu synthetic ratings (100,000 users x 20,000 items) to %s\n",
              static_cast<unsigned long long>(o.ratings), data.c_str());
  recflow::bench::write_ratings_file(data, o.ratings, 100'000, 20'000, 7);

  struct config {
    std::size_t batch, partitions;
    double goal;  ///< stream_seconds speedup the issue asks for
  };
  std::vector<config> configs{{10'000, 2, 1.6}, {10'000, 4, 1.6}, {100'000, 2, 1.6},
                              {100'000, 4, 1.6}, {1'000, 2, 1.0}};
  std::printf("\n%-22s %8s %8s %8s | %9s %9s %8s | %8s %8s %8s | %s\n", "configuration",
              "ref s", "graph s", "speedup", "ref upd/s", "graph", "ratio", "ref all", "graph",
              "ratio", "goal");
  bool all_met = true;
  for (const auto& c : configs) {
    if (o.only != 0 && c.batch != o.only)
      continue;
    auto base = fmt::format("{} stream --data {} --rank 50 --batch-size {} --workers 2 "
                            "--partitions {} --no-csv --quiet --json",
                            cli, data, c.batch, c.partitions);
    if (&c == &configs.front() || o.only != 0)
      std::printf("commands: %s --engine reference | --engine local\n", base.c_str());
    auto probe = recflow::bench::probe_memory_scaling();
    std::printf("  machine now: two threads reading rows %.2fx one (%.1f / %.1f ns a row)\n",
                probe.ratio, probe.one_ns, probe.two_ns);
    figures ref, graph;
    for (int r = 0; r < o.rounds; ++r) {
      ref.add(run_json(base + " --engine reference"));
      graph.add(run_json(base + " --engine local"));
    }
    auto rs = median(ref.stream_seconds), gs = median(graph.stream_seconds);
    auto ru = median(ref.update_rate), gu = median(graph.update_rate);
    auto ra = median(ref.seconds), ga = median(graph.seconds);
    bool met = rs / gs >= c.goal;
    all_met = all_met && met;
    std::printf("batch %6zu, %zu parts   %8.2f %8.2f %7.2fx | %8.2fM %8.2fM %7.2fx | %8.2f %8.2f "
                "%7.2fx | >= %.1fx %s\n",
                c.batch, c.partitions, rs, gs, rs / gs, ru / 1e6, gu / 1e6, gu / ru, ra, ga,
                ra / ga, c.goal, met ? "met" : "NOT met");
    std::fflush(stdout);
  }
  if (o.main_job) {
    const char* env = std::getenv("RECFLOW_DATA");
    std::string root = env && *env ? env : "../shared/data";
    auto u_data = root + "/ml-100k/u.data";
    if (!fs::exists(u_data)) {
      std::printf("main job: skipped (%s not found; set RECFLOW_DATA)\n", u_data.c_str());
    } else {
      auto base = fmt::format("{} stream --data {} --split 0.8 --seed 42 --batch-size 1000 "
                              "--no-csv --quiet --json",
                              cli, u_data);
      std::printf("\nmain job: %s [--engine reference]\n", base.c_str());
      figures ref, graph;
      for (int r = 0; r < std::max(3, o.rounds); ++r) {
        ref.add(run_json(base + " --engine reference"));
        graph.add(run_json(base));
      }
      auto gm = median(graph.median_batch) * 1e3, rm = median(ref.median_batch) * 1e3;
      std::printf("median batch latency: graph %.3f ms, reference %.3f ms (graph/reference "
                  "%.2fx); stream seconds graph %.3f, reference %.3f; goal graph <= 0.3 ms: %s\n",
                  gm, rm, gm / rm, median(graph.stream_seconds), median(ref.stream_seconds),
                  gm <= 0.3 ? "met" : "NOT met");
    }
  }
  std::printf("\ngoals (stream speedup): %s\n", all_met ? "all met" : "not all met");
  fs::remove_all(dir);
  return 0;
}
