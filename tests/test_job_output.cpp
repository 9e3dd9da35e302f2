// The job layer's outputs: the per-batch CSV (and how a resumed run continues it), the
// saved model's metadata and the JSON summary of `recflow stream`.
#include <catch2/catch.hpp>

#include "cli_test_util.hpp"
#include "recflow/job/stream_output.hpp"

using namespace recflow;
using recflow::test::file_text;
using recflow::test::scratch_dir;

namespace {

stream_report batch(std::uint64_t b, bool evaluated = true) {
  return {.batch = b, .ratings_seen = b * 100, .evaluated = evaluated, .rmse = 1.0 / double(b),
          .mae = 0.5, .batch_seconds = 0.001, .elapsed_seconds = 0.002 * double(b)};
}

}  // namespace

TEST_CASE("job output: a batch row has empty errors when the batch was not evaluated", "[job]") {
  CHECK(csv_row(batch(2)) == "2,200,0.500000,0.500000,0.001000,0.004000\n");
  CHECK(csv_row(batch(3, false)) == "3,300,,,0.001000,0.006000\n");
  CHECK(error_text(batch(2)) == "rmse 0.5000  mae 0.5000");
  CHECK(error_text(batch(3, false)) == "rmse -       mae -     ");
}

TEST_CASE("job output: a continued CSV drops the rows a killed run wrote after its checkpoint",
          "[job]") {
  scratch_dir dir;
  auto path = dir.file("stream.csv");
  {
    auto first = stream_csv::open(path);
    REQUIRE(first);
    for (std::uint64_t b = 1; b <= 5; ++b)  // checkpoint after 3, killed after 5
      first->write(batch(b));
  }
  auto rest = stream_csv::open(path, /*continues=*/true);
  REQUIRE(rest);
  rest->write(batch(4));  // the resumed run starts again after the checkpoint's batch 3
  rest->close();
  std::string want = stream_csv_header;
  for (std::uint64_t b = 1; b <= 4; ++b)
    want += csv_row(batch(b));
  CHECK(file_text(path) == want);

  SECTION("a fresh run truncates; a continued run with no file starts one") {
    auto fresh = stream_csv::open(path);
    REQUIRE(fresh);
    fresh->close();
    CHECK(file_text(path) == stream_csv_header);
    auto other = stream_csv::open(dir.file("new.csv"), true);
    REQUIRE(other);
    other->close();
    CHECK(file_text(dir.file("new.csv")) == stream_csv_header);
  }
  SECTION("a folder that does not exist is an error naming the file") {
    auto bad = stream_csv::open(dir.file("no/such.csv"));
    REQUIRE_FALSE(bad);
    CHECK(bad.err().message == dir.file("no/such.csv") + ": cannot write the per-batch CSV");
  }
}

TEST_CASE("job output: a tracked run's metadata and summary carry its mark, a table run's its "
          "parameters and timings",
          "[job]") {
  stream_job_result run;
  run.mark = {.batches = 7, .ratings = 700, .position = "p7"};
  run.reports = {batch(6), batch(7)};
  run.added_ratings = 2;
  run.checkpoints_written = {"a", "b"};
  stream_facts f{.data = "file:x", .batch_size = 100, .batches = 7, .train_ratings = 700};
  f.tracked = stream_facts::tracked_run{&run, 3};
  auto meta = stream_metadata(f);
  CHECK(meta.get("trainer") == "stream");
  CHECK(meta.get("ratings_applied") == "700");
  CHECK(meta.get("stream_position") == "p7");
  CHECK_FALSE(meta.get("gamma"));
  auto j = stream_summary(f);
  CHECK(j["batches_this_run"] == 2);
  CHECK(j["dead_letters"] == 3);
  CHECK(j["posted_ratings"] == 2);
  CHECK(j["checkpoints_written"] == 2);
  CHECK(j["resumed_from"].is_null());
  CHECK_FALSE(j.contains("nodes"));

  stream_facts t{.data = "u.data", .batch_size = 100, .batches = 2, .train_ratings = 200};
  t.timed = stream_timing({batch(1), batch(2)}, 3);
  CHECK(t.timed->update_rate == Approx(200.0 * 3 / 0.002));
  CHECK(t.timed->stream_seconds == 0.004);
  auto tm = stream_metadata(t);
  CHECK(tm.get("gamma") == "0.03");  // the default, written as the shortest round trip
  CHECK_FALSE(tm.get("stream_position"));
  auto tj = stream_summary(t);
  CHECK(tj["nodes"] == 0);
  CHECK(tj["per_batch_csv"].is_null());
  CHECK(tj.contains("median_batch_seconds"));
}
