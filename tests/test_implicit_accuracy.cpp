// Implicit ALS on MovieLens 100K with the shipped defaults, scored by the NCF protocol
// (leave-latest-out, 100 sampled negatives, seed 42) beside the popularity baseline.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "recflow/data/events.hpp"
#include "recflow/job/implicit_job.hpp"
#include "recflow/job/implicit_stream_job.hpp"
#include "skip_test_util.hpp"
#include "test_util.hpp"

using namespace recflow;

namespace {

/// The model's and popularity's figures on MovieLens 100K, ratings >= `threshold` as events.
implicit_job_result run_ml100k(const std::string& file, double threshold) {
  auto events = read_events(file, {.ingest = {}, .threshold = threshold});
  REQUIRE(events);
  auto r = run_implicit_job(*events, implicit_job_options{});
  REQUIRE(r);
  std::printf("implicit ALS defaults, MovieLens 100K ratings >= %g as events: HR@10 %.4f "
              "NDCG@10 %.4f, popularity HR@10 %.4f NDCG@10 %.4f (%zu held out)\n",
              threshold, r->ranking.hit_rate, r->ranking.ndcg, r->popularity.hit_rate,
              r->popularity.ndcg, r->held_out);
  return std::move(*r);
}

}  // namespace

// Every rating is an event, as the NCF paper converts MovieLens: its protocol's figures
// then compare with the literature. Measured 0.7105 / 0.4356 (popularity 0.424 / 0.230),
// the HR@10 >= 0.70 (docs/implicit.md); without the recency boost 0.679 / 0.388.
TEST_CASE("implicit: MovieLens 100K, every rating an event, shipped defaults beat popularity",
          "[implicit][accuracy]") {
  auto file = test::data_dir() + "/ml-100k/u.data";
  if (!std::filesystem::exists(file)) {  // skipped as a case without its tool is
    if (test::in_ci())
      FAIL(file << " is missing, and CI runs every test");
    WARN("SKIPPED: " << file << " is missing (set RECFLOW_DATA; tools/download-data.sh data)");
    test::any_skipped() = true;
    return;
  }
  auto all = run_ml100k(file, 1.0);
  CHECK(all.held_out == 943);
  CHECK(all.ranking.hit_rate >= 0.70);
  CHECK(all.ranking.ndcg >= 0.425);
  CHECK(all.ranking.hit_rate >= all.popularity.hit_rate + 0.2);
  CHECK(all.ranking.ndcg >= all.popularity.ndcg + 0.1);

  // Ratings >= 4 only: 55k events; measured 0.661 / 0.393 (popularity 0.413 / 0.232).
  auto liked = run_ml100k(file, 4.0);
  CHECK(liked.ranking.hit_rate >= 0.645);
  CHECK(liked.ranking.hit_rate >= liked.popularity.hit_rate + 0.15);
}

// Streaming from an empty model in batches of 1,000 (time order, the actor graph, shipped
// defaults) against batch implicit ALS on the same split: the issue asks for HR@10 within
// 0.03 of batch. Measured, with the same sampled negatives as batch: MovieLens 100K 0.7158
// against 0.7105 (popularity 0.4242), ml-latest-small 0.7574 against 0.767 (popularity
// 0.593; docs/implicit.md).
TEST_CASE("implicit: streaming from empty in batches of 1,000 within 0.03 of batch HR@10",
          "[implicit][stream][accuracy]") {
  struct set {
    const char* file;
    double batch_hr;  // batch implicit ALS with the shipped defaults (the test above)
  };
  for (const auto& d : {set{"/ml-100k/u.data", 0.7105}, set{"/ml-latest-small/ratings.csv", 0.767}}) {
    auto file = test::data_dir() + d.file;
    if (!std::filesystem::exists(file)) {
      if (test::in_ci())
        FAIL(file << " is missing, and CI runs every test");
      WARN("SKIPPED: " << file << " is missing (set RECFLOW_DATA; tools/download-data.sh data)");
      test::any_skipped() = true;
      continue;
    }
    auto events = read_events(file, {.ingest = {}, .threshold = 0.0});
    REQUIRE(events);
    implicit_stream_job_options o;  // batches of 1,000, time order, the graph
    auto r = run_implicit_stream_job(*events, o);
    REQUIRE(r);
    std::printf("streaming implicit ALS, %s every rating an event, batches of 1,000: HR@10 %.4f "
                "NDCG@10 %.4f, popularity HR@10 %.4f (%llu batches, %.2f s of updates)\n",
                d.file, r->ranking.hit_rate, r->ranking.ndcg, r->popularity.hit_rate,
                static_cast<unsigned long long>(r->batches), r->stream_seconds);
    CHECK(r->ranking.hit_rate >= d.batch_hr - 0.03);
    CHECK(r->ranking.hit_rate >= r->popularity.hit_rate + 0.15);
  }
}
