// The soak run: stream ml-latest-small over and over for N minutes while clients query the
// live model and POST new ratings that join the stream; prints how much was streamed,
// answered and posted, the failures, and resident memory after the warm-up, at the end and
// at its peak. Exit code 1 when a request failed or memory grew by more than --max-growth.
//
//   ./bench_soak --minutes 5
//   ./bench_soak --minutes 5 --data PATH --rank 50 --rate 500 --post-rate 20 --max-growth 32
#include <cstdlib>
#include <string>

#include <fmt/core.h>

#include "soak.hpp"  // tests/support: the soak run

using namespace recflow;

int main(int argc, char** argv) {
  soak::soak_options o;
  o.data = std::string(std::getenv("RECFLOW_DATA") ? std::getenv("RECFLOW_DATA") : "../shared/data")
           + "/ml-latest-small/ratings.csv";
  double max_growth_mb = 32;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--minutes") o.seconds = std::stod(v) * 60;
    else if (k == "--warmup") o.warmup_seconds = std::stod(v);
    else if (k == "--data") o.data = v;
    else if (k == "--rank") o.rank = std::stoi(v);
    else if (k == "--batch-size") o.batch_size = std::stoul(v);
    else if (k == "--rate") o.query_rate = std::stod(v);
    else if (k == "--connections") o.connections = std::stoul(v);
    else if (k == "--post-rate") o.post_rate = std::stod(v);
    else if (k == "--publish-interval") o.publish_interval = std::chrono::milliseconds(std::stol(v));
    else if (k == "--max-growth") max_growth_mb = std::stod(v);
    else if (k == "--training-nice") {
      auto p = thread_priority::parse(v);
      if (!p) { fmt::print(stderr, "{}\n", p.err().message); return 2; }
      o.training_priority = *p;
    }
    else { fmt::print(stderr, "unknown option {}\n", k); return 2; }
  }
  if (argc % 2 == 0) {
    fmt::print(stderr, "usage: bench_soak [--minutes N] [--warmup S] [--data FILE] [--rank K] [--rate Q/s] ...\n");
    return 2;
  }
  fmt::print("bench_soak: {} for {:.0f} s (warm-up {:.0f} s), rank {}, batches of {}, {:.0f} queries/s on {} "
             "connections, {:.0f} posts/s, publish interval {} ms, training threads at priority {}\n",
             o.data, o.seconds, o.warmup_seconds, o.rank, o.batch_size, o.query_rate, o.connections,
             o.post_rate, o.publish_interval.count(), o.training_priority.text());
  auto r = soak::run_soak(o, [](const std::string& line) { fmt::print("  {}\n", line); std::fflush(stdout); });
  if (!r) {
    fmt::print(stderr, "bench_soak: {}\n", r.err().message);
    return 1;
  }
  fmt::print("duration          {:.1f} s\n", r->seconds);
  fmt::print("ratings streamed  {} in {} batches ({:.1f} passes over the file; {:.0f} ratings/s)\n",
             r->ratings_streamed, r->batches, r->passes_over_data, double(r->ratings_streamed) / r->seconds);
  fmt::print("queries answered  {} ({:.0f}/s), failed {}\n", r->queries, double(r->queries) / r->seconds,
             r->query_failures);
  fmt::print("ratings posted    {} in {} posts, failed {}\n", r->ratings_posted, r->posts, r->post_failures);
  fmt::print("model             version {} served at the end, last validation rmse {:.4f}\n",
             r->versions_published, r->last_rmse.value_or(0.0));
  fmt::print("rss               {:.1f} MB before the stream; after the warm-up {:.1f} MB, at the end {:.1f} MB "
             "({:+.1f} MB; medians over a tenth of the time, 1-10 s), peak {:.1f} MB\n",
             r->rss_first_mb, r->rss_start_mb, r->rss_end_mb, r->rss_end_mb - r->rss_start_mb, r->rss_peak_mb);
  if (!r->first_failure.empty())
    fmt::print("first failure     {}\n", r->first_failure);
  bool ok = r->query_failures == 0 && r->post_failures == 0 && r->rss_end_mb - r->rss_start_mb <= max_growth_mb;
  fmt::print("{}: no failed request {}, memory growth {:.1f} MB <= {:.0f} MB {}\n", ok ? "PASS" : "FAIL",
             r->query_failures + r->post_failures == 0 ? "yes" : "NO", r->rss_end_mb - r->rss_start_mb,
             max_growth_mb, r->rss_end_mb - r->rss_start_mb <= max_growth_mb ? "yes" : "NO");
  return ok ? 0 : 1;
}
