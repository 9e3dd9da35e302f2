// Ingest speed: recflow's reader against a naive getline + istringstream reader on a
// generated ml-latest-style file (default 20M ratings, 100,000 users, 20,000 items).
//
//   ./bench_ingest [--ratings N] [--users N] [--items N] [--seed S] [--file PATH]
//                  [--repeat N] [--baseline-repeat N] [--keep] [--reuse] [--also FILE]...
//
// The file is generated once (seeded) into the temp dir or PATH, then every reader runs
// on it in the same process, best of N, with the file in the page cache. The file is
// deleted at the end unless --keep; --reuse reads an existing PATH instead of writing it.
// --also times read_ratings on other files too (e.g. ml-100k/u.data). Defaults: best of 3
// for recflow, best of 2 for the baseline (about 15 s a run at 20M ratings).
#include <fcntl.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "ratings_file.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/data/rating_reader.hpp"

namespace fs = std::filesystem;
using namespace recflow;

namespace {

struct bench_params {
  std::uint64_t ratings = 20'000'000;
  std::uint32_t users = 100'000;
  std::uint32_t items = 20'000;
  std::uint64_t seed = 42;
  std::string file;
  int repeat = 3;
  int baseline_repeat = 2;
  bool keep = false;
  bool reuse = false;
  std::vector<std::string> also;  ///< other files to time read_ratings on (e.g. u.data)
};

/// CPU seconds this process has used (the machine is shared: wall time can include waits).
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Wall and CPU seconds of a run: the fastest of several.
struct timing {
  double wall = 1e300;
  double cpu = 1e300;
};

timing best_of(int n, const std::function<void()>& fn) {
  timing best;
  for (int k = 0; k < n; ++k) {
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best.wall = std::min(best.wall, wall);
    best.cpu = std::min(best.cpu, cpu_seconds() - c0);
  }
  return best;
}

struct raw_rating {
  std::int64_t user, item;
  float value;
  std::int64_t timestamp;
};

/// What LibMF-like tools do: a stream per line, ids kept as read (no dense mapping).
std::vector<raw_rating> naive_read(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<raw_rating> out;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    raw_rating r{};
    if (fields >> r.user >> r.item >> r.value >> r.timestamp) out.push_back(r);
  }
  return out;
}

/// Bytes only: read() in 1 MiB blocks, summing them so the work is not optimised away.
std::uint64_t raw_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buf(1 << 20);
  std::uint64_t sum = 0;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;)
    for (ssize_t k = 0; k < n; k += 64) sum += static_cast<unsigned char>(buf[static_cast<std::size_t>(k)]);
  ::close(fd);
  return sum;
}

bool parse_args(int argc, char** argv, bench_params& p) {
  for (int k = 1; k < argc; ++k) {
    std::string a = argv[k];
    auto value = [&]() -> std::string { return k + 1 < argc ? argv[++k] : ""; };
    if (a == "--ratings") p.ratings = std::stoull(value());
    else if (a == "--users") p.users = static_cast<std::uint32_t>(std::stoul(value()));
    else if (a == "--items") p.items = static_cast<std::uint32_t>(std::stoul(value()));
    else if (a == "--seed") p.seed = std::stoull(value());
    else if (a == "--file") p.file = value();
    else if (a == "--repeat") p.repeat = std::stoi(value());
    else if (a == "--baseline-repeat") p.baseline_repeat = std::stoi(value());
    else if (a == "--keep") p.keep = true;
    else if (a == "--reuse") p.reuse = true;
    else if (a == "--also") p.also.push_back(value());
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return false;
    }
  }
  if (p.users < 1 || p.items < 2 || p.repeat < 1 || p.baseline_repeat < 0) {
    fmt::print(stderr, "need --users >= 1, --items >= 2, --repeat >= 1, --baseline-repeat >= 0\n");
    return false;
  }
  return true;
}

void row(const char* what, timing t, double bytes, double ratings) {
  fmt::print("{:<36} {:7.3f} s {:7.3f} s {:8.1f} MB/s {:7.2f} M/s\n", what, t.wall, t.cpu,
             bytes / t.wall / 1e6, ratings / t.wall / 1e6);
}

}  // namespace

int run(bench_params& p) {
  if (p.file.empty())
    p.file = (fs::temp_directory_path() / fmt::format("recflow_bench_ingest_{}.csv", ::getpid())).string();
  if (!(p.reuse && fs::exists(p.file))) {
    auto t0 = std::chrono::steady_clock::now();
    bench::write_ratings_file(p.file, p.ratings, p.users, p.items, p.seed);
    fmt::print("generated {} in {:.1f} s\n", p.file,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  double bytes = static_cast<double>(fs::file_size(p.file));
  fmt::print("file: {:.1f} MB, {} ratings requested, {} users, {} items (page cache warm)\n\n",
             bytes / 1e6, p.ratings, p.users, p.items);

  std::uint64_t sink = 0;
  auto raw = best_of(p.repeat, [&] { sink += raw_read(p.file); });

  std::size_t n_naive = 0;
  timing naive;
  if (p.baseline_repeat)
    naive = best_of(p.baseline_repeat, [&] { n_naive = naive_read(p.file).size(); });

  rating_table table;
  ingest_report report;
  auto ours = best_of(p.repeat, [&] {
    auto t = read_ratings(p.file, {}, &report);
    if (!t) throw std::runtime_error(t.err().message);
    table = std::move(*t);
  });

  std::size_t n_stream = 0;
  auto stream = best_of(p.repeat, [&] {
    auto r = rating_reader::open(p.file);
    if (!r) throw std::runtime_error(r.err().message);
    rating_table ids;
    std::vector<rating> batch;
    n_stream = 0;
    for (;;) {
      batch.clear();
      auto n = r->next(1'000'000, ids, batch);
      if (!n) throw std::runtime_error(n.err().message);
      if (*n == 0) break;
      n_stream += *n;
    }
  });

  double n = static_cast<double>(table.size());
  fmt::print("read {} ratings ({}), {} users, {} items, mean {:.6f}\n", table.size(),
             to_string(report.format), table.users.size(), table.items.size(),
             mean_rating(table.ratings));
  if (p.baseline_repeat && n_naive != table.size())
    fmt::print("WARNING: the baseline read {} ratings\n", n_naive);
  if (n_stream != table.size()) fmt::print("WARNING: the chunked reader read {} ratings\n", n_stream);
  fmt::print("\n{:<36} {:>9} {:>9} {:>13} {:>11}\n", "reader (best of N)", "wall", "cpu",
             "wall MB/s", "ratings/s");
  row("raw read() of the bytes", raw, bytes, n);
  if (p.baseline_repeat) row("baseline getline + istringstream", naive, bytes, n);
  row("recflow read_ratings (mmap)", ours, bytes, n);
  row("recflow rating_reader (1M batches)", stream, bytes, n);
  if (p.baseline_repeat)
    fmt::print("\nspeed ratio read_ratings / baseline: {:.1f}x wall, {:.1f}x cpu "
               "(chunked: {:.1f}x wall, {:.1f}x cpu)\n",
               naive.wall / ours.wall, naive.cpu / ours.cpu, naive.wall / stream.wall,
               naive.cpu / stream.cpu);
  for (auto& path : p.also) {
    std::size_t count = 0;
    auto t = best_of(p.repeat * 3, [&] {
      auto r = read_ratings(path);
      if (!r) throw std::runtime_error(r.err().message);
      count = r->size();
    });
    fmt::print("{}: {} ratings in {:.2f} ms wall, {:.2f} ms cpu\n", path, count, t.wall * 1e3,
               t.cpu * 1e3);
  }
  fmt::print("(checksum {})\n", sink % 10);
  return 0;
}

int main(int argc, char** argv) {
  bench_params p;
  if (!parse_args(argc, argv, p)) return 2;
  int rc = 1;
  try {
    rc = run(p);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_ingest: {}\n", e.what());
  }
  if (p.keep) fmt::print("kept {}\n", p.file);
  else if (!p.file.empty()) fs::remove(p.file);
  return rc;
}
