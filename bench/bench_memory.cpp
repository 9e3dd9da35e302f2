// Memory of streaming a large rating file through the actor graph: peak RSS against the
// budget (model + batches in flight + validation set), for the chunked file source and,
// as the baseline in the same run, for reading the whole file first (the old way).
//
//   ./bench_memory                         # 20M ratings, 100,000 users x 20,000 items, rank 10
//   ./bench_memory --ratings 2000000 --rank 50 --batch 10000 --every 50 --file /tmp/r.csv --keep
//
// Each variant runs in its own child process (fork before any actor system exists), so
// each peak RSS (ru_maxrss of the child) is its own. The budget counts the parameters of
// the final model (ids, biases, counts, factors: what a snapshot of it holds), the
// batches in flight (max_in_flight x batch x 32-byte events) and the validation set. The
// peak is read when the stream ends, before the final snapshot (which, assembling one
// factor_model, holds a copy of the model beside the owners' shards). The floor is a run
// with no ratings and no validation set: the process, its libraries and its actor system,
// which hold no data of the job; "above the floor" is what the job's data costs.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include "ratings_file.hpp"
#include "recflow/data/ingest.hpp"
#include "rusage.hpp"
#include "recflow/engine/local_engine.hpp"

using namespace recflow;
using recflow::bench::peak_rss_mb;
namespace fs = std::filesystem;

namespace {

struct options {
  std::uint64_t ratings = 20'000'000;
  std::uint32_t users = 100'000;
  std::uint32_t items = 20'000;
  std::uint64_t validation = 200'000;
  int rank = 10;
  std::size_t batch = 10'000;
  std::size_t every = 100;  ///< evaluate after every n-th batch
  std::size_t partitions = 2;
  std::string file;
  bool keep = false;
  bool reuse = false;
};

options parse(int argc, char** argv) {
  options o;
  for (int a = 1; a < argc; ++a) {
    std::string k = argv[a];
    if (k == "--keep") { o.keep = true; continue; }
    if (k == "--reuse") { o.reuse = true; continue; }
    if (a + 1 >= argc) { fmt::print(stderr, "{} needs a value\n", k); std::exit(2); }
    std::string v = argv[++a];
    if (k == "--ratings") o.ratings = std::stoull(v);
    else if (k == "--users") o.users = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--items") o.items = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--validation") o.validation = std::stoull(v);
    else if (k == "--rank") o.rank = std::stoi(v);
    else if (k == "--batch") o.batch = std::stoull(v);
    else if (k == "--every") o.every = std::stoull(v);
    else if (k == "--partitions") o.partitions = std::stoull(v);
    else if (k == "--file") o.file = v;
    else { fmt::print(stderr, "unknown option {}\n", k); std::exit(2); }
  }
  return o;
}

/// What a child reports back through its pipe.
struct child_report {
  double peak_mb = 0.0;
  double model_mb = 0.0;
  double in_flight_mb = 0.0;
  double validation_mb = 0.0;
  double seconds = 0.0;
  double rmse = 0.0;
  std::uint64_t ratings = 0;
  std::uint64_t users = 0, items = 0;
  bool ok = false;
};

/// How the child feeds the graph.
enum class variant {
  chunked,  ///< file_source: the file is read a batch at a time
  whole,    ///< read_ratings, then memory_source (the baseline)
  empty,    ///< no ratings and no validation set: the process and its actor system alone
};

const char* name(variant v) {
  switch (v) {
    case variant::chunked: return "chunked file_source";
    case variant::whole: return "whole file (baseline)";
    case variant::empty: return "no ratings (floor)";
  }
  return "?";
}

/// Streams the file through the graph as `how` says.
child_report stream_file(const options& o, const std::string& file, const std::string& valid_file,
                         variant how) {
  child_report r;
  auto validation = how == variant::empty ? result<rating_table>(rating_table{})
                                          : read_ratings(valid_file);
  if (!validation) {
    fmt::print(stderr, "{}\n", validation.err().message);
    return r;
  }
  const std::size_t in_flight = 2;
  std::shared_ptr<rating_source> source;
  if (how == variant::empty) {
    source = memory_source(std::vector<rating_event>{}, {.max_ratings = o.batch});
  } else if (how == variant::whole) {
    auto all = read_ratings(file);
    if (!all) {
      fmt::print(stderr, "{}\n", all.err().message);
      return r;
    }
    source = memory_source(*all, {.max_ratings = o.batch});
  } else {
    source = file_source(file, {}, {.max_ratings = o.batch});
  }
  stream_params p;
  p.rank = o.rank;
  p.passes = 1;
  auto g = make_streaming_graph(source, p, o.partitions, validation->scale);
  if (how != variant::empty)
    g.evaluation = evaluation_options{
      std::make_shared<const rating_table>(std::move(*validation)), o.every};
  auto engine = local_engine::make(g, {.workers = 2, .max_in_flight = in_flight});
  if (!engine) {
    fmt::print(stderr, "{}\n", engine.err().message);
    return r;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto sum = (*engine)->run([&](const batch_metrics& m) {
    if (m.rmse)
      r.rmse = *m.rmse;
  });
  if (!sum) {
    fmt::print(stderr, "{}\n", sum.err().message);
    return r;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.ratings = sum->ratings;
  r.peak_mb = peak_rss_mb();  // streaming; the snapshot below copies the model once more
  auto model = (*engine)->snapshot();
  if (!model)
    return r;
  r.users = model->n_users();
  r.items = model->n_items();
  // Per entity: the external id (8), bias (8), count (4) and rank factors (float, 4 each).
  auto per_entity = 8.0 + 8.0 + 4.0 + double(sizeof(float)) * o.rank;
  r.model_mb = double(r.users + r.items) * per_entity / (1 << 20);
  r.in_flight_mb = double(in_flight * o.batch * sizeof(rating_event)) / (1 << 20);
  if (g.evaluation) {
    const auto& v = *g.evaluation->validation;
    r.validation_mb = double(v.ratings.size() * sizeof(rating)
                             + (v.users.size() + v.items.size()) * 2 * sizeof(std::int64_t))
                      / (1 << 20);
  }
  r.ok = true;
  return r;
}

/// Runs `stream_file` in a child process and returns its report.
child_report in_child(const options& o, const std::string& file, const std::string& valid_file,
                      variant how) {
  int fds[2];
  if (::pipe(fds) != 0)
    return {};
  auto pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto r = stream_file(o, file, valid_file, how);
    auto written = ::write(fds[1], &r, sizeof r);
    ::_exit(written == sizeof r && r.ok ? 0 : 1);
  }
  ::close(fds[1]);
  child_report r;
  auto got = ::read(fds[0], &r, sizeof r);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != sizeof r)
    r.ok = false;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto dir = fs::temp_directory_path();
  auto file = o.file.empty() ? (dir / "recflow-bench-memory.csv").string() : o.file;
  auto valid_file = file + ".validation.csv";
  if (!o.reuse || !fs::exists(file)) {
    auto t0 = std::chrono::steady_clock::now();
    bench::write_ratings_file(file, o.ratings, o.users, o.items, 42);
    fmt::print("generated {} ({:.0f} MB) in {:.1f} s\n", file, double(fs::file_size(file)) / 1e6,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  bench::write_ratings_file(valid_file, o.validation, o.users, o.items, 4242);
  fmt::print("{} ratings streamed in batches of {}, rank {}, {} partitions, evaluation on {} "
             "ratings after every {} batches\n",
             o.ratings, o.batch, o.rank, o.partitions, o.validation, o.every);
  fmt::print("{:<22} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}\n", "source", "model MB",
             "flight MB", "valid MB", "budget MB", "peak RSS MB", "ratio", "seconds");
  int rc = 0;
  double floor = 0.0;
  for (auto how : {variant::empty, variant::chunked, variant::whole}) {
    auto r = in_child(o, file, valid_file, how);
    if (!r.ok) {
      fmt::print("{:<22} failed\n", name(how));
      rc = 1;
      continue;
    }
    if (how == variant::empty) {
      floor = r.peak_mb;
      fmt::print("{:<22} {:>9} {:>9} {:>9} {:>9} {:>10.1f}\n", name(how), "", "", "", "",
                 r.peak_mb);
      continue;
    }
    auto budget = r.model_mb + r.in_flight_mb + r.validation_mb;
    fmt::print("{:<22} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>10.1f} {:>8.2f} {:>8.1f}\n",
               name(how), r.model_mb, r.in_flight_mb, r.validation_mb, budget, r.peak_mb,
               r.peak_mb / budget, r.seconds);
    fmt::print("  above the floor: {:.1f} MB = {:.2f}x the budget; {} ratings, {} users, {} "
               "items, final validation RMSE {:.4f}\n",
               r.peak_mb - floor, (r.peak_mb - floor) / budget, r.ratings, r.users, r.items,
               r.rmse);
  }
  fs::remove(valid_file);
  if (!o.keep)
    fs::remove(file);
  return rc;
}
