// The engine with positioned sources: acknowledgements follow completion in order, and
// run_stream_job resumes from a checkpoint to the uninterrupted run's model.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_test_util.hpp"
#include "engine_test_util.hpp"
#include "recflow/engine/stream_job.hpp"

using namespace recflow;
using recflow::test::planted_batches;
using recflow::test::source_job;
using recflow::test::pos;
using recflow::test::recording_source;
using recflow::test::scratch_dir;

TEST_CASE("engine: each batch is acknowledged to its source once every owner applied it, in order",
          "[engine][sources]") {
  auto src = std::make_shared<recording_source>(planted_batches());
  stream_params params;
  params.rank = 6;
  std::vector<std::string> seen_at_completion;
  auto run = run_stream_job(source_job({}, params, src),
                            [&](const stream_report&) { seen_at_completion = src->acked(); });
  REQUIRE(run.has_value());
  auto acked = src->acked();
  REQUIRE(acked.size() == 20);
  for (std::size_t j = 0; j < acked.size(); ++j)
    CHECK(acked[j] == pos(j + 1));
  CHECK(seen_at_completion.size() == 20);  // acknowledged before the batch is reported
  CHECK(run->mark.position == "p20");
}

TEST_CASE("engine: a run stopped after a checkpoint and resumed ends with the uninterrupted model",
          "[engine][checkpoint]") {
  scratch_dir dir;
  stream_params params;
  params.rank = 6;
  params.passes = 2;
  auto batches = planted_batches();
  auto whole = run_stream_job(source_job({}, params, std::make_shared<recording_source>(batches)));
  REQUIRE(whole.has_value());

  stream_job_options o;
  o.checkpoints = {dir.file("ck"), 4, 2};
  o.max_batches = GENERATE(1, 7, 8, 19);
  auto first = run_stream_job(source_job(o, params, std::make_shared<recording_source>(batches)));
  REQUIRE(first.has_value());
  CHECK(first->mark.batches == o.max_batches);
  o.max_batches = 0;
  o.resume = true;
  auto src = std::make_shared<recording_source>(batches);
  auto rest = run_stream_job(source_job(o, params, src));
  REQUIRE(rest.has_value());
  CHECK(rest->resumed_from.has_value());
  CHECK(rest->reports.size() == 20 - first->mark.batches);
  CHECK(rest->reports.front().batch == first->mark.batches + 1);
  CHECK(rest->mark.ratings == 20'000);
  CHECK(rest->model.mu_count() == 20'000);
  CHECK(rest->model == whole->model);  // bit for bit: same batches, same kernels

  SECTION("a checkpoint of another rank is refused with both ranks named") {
    params.rank = 7;
    auto bad = run_stream_job(source_job(o, params, std::make_shared<recording_source>(batches)));
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.err().message, Catch::Contains("rank 6") && Catch::Contains("rank 7"));
  }
}

TEST_CASE("engine: a checkpoint that cannot be written is noted, training goes on and the "
          "next one is written", "[engine][checkpoint]") {
  scratch_dir dir;
  stream_params params;
  params.rank = 6;
  auto batches = planted_batches();
  auto whole = run_stream_job(source_job({}, params, std::make_shared<recording_source>(batches)));
  REQUIRE(whole.has_value());

  // From batch 5 to batch 12 the folder is a file (even root cannot write in it then), so
  // the checkpoint after batch 8 fails; the ones after 4, 12, 16 and 20 are written.
  stream_job_options o;
  o.checkpoints = {dir.file("ck"), 4, 10};
  const auto folder = dir.file("ck"), away = dir.file("ck-away");
  auto on_batch = [&](const stream_report& r) {
    if (r.batch == 5) {
      std::filesystem::rename(folder, away);
      std::ofstream(folder) << "not a folder";
    } else if (r.batch == 12) {
      std::filesystem::remove(folder);
      std::filesystem::rename(away, folder);
    }
  };
  std::vector<std::string> notes;
  auto run = run_stream_job(source_job(o, params, std::make_shared<recording_source>(batches)),
                            on_batch, [&](const std::string& n) { notes.push_back(n); });
  INFO((run ? std::string() : run.err().message));
  REQUIRE(run.has_value());
  CHECK(run->checkpoints_failed == 1);
  CHECK(run->checkpoints_written.size() == 4);
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::StartsWith("checkpoint after batch 8 not written: ")
                         && Catch::EndsWith("; training goes on"));
  CHECK(run->reports.size() == 20);
  CHECK(run->model == whole->model);  // a failed write changes nothing in the training
}

TEST_CASE("stream job: a table streamed with checkpoints and a fitted partitioner resumes to "
          "the uninterrupted model, and a live source refuses fitted partitioners",
          "[engine][checkpoint]") {
  scratch_dir dir;
  auto table = std::make_shared<rating_table>();
  table->scale = {1.0, 5.0};
  for (const auto& b : planted_batches())
    for (const auto& e : b.ratings)
      table->ratings.push_back(
        {table->users.insert(e.user), table->items.insert(e.item), e.value, e.timestamp});
  const auto kind = GENERATE(partitioner_kind::range, partitioner_kind::degree);
  INFO(to_string(kind));
  stream_job_options o;
  o.training.rank = 6;
  o.input = table_input{table, 1000};
  o.partitions = 3;
  o.partitioner = kind;
  auto whole = run_stream_job(o);
  REQUIRE(whole.has_value());

  o.checkpoints = {dir.file("ck"), 4, 2};
  o.max_batches = 6;
  auto first = run_stream_job(o);
  REQUIRE(first.has_value());
  CHECK(first->checkpoints_written.size() == 2);  // after 4 and after 6
  o.max_batches = 0;
  o.resume = true;
  auto rest = run_stream_job(o);
  REQUIRE(rest.has_value());
  CHECK(rest->reports.front().batch == 7);
  CHECK(rest->mark.ratings == table->size());
  CHECK(rest->model == whole->model);

  auto live = run_stream_job(source_job(
    {.partitioner = kind}, o.training, std::make_shared<recording_source>(planted_batches())));
  REQUIRE_FALSE(live.has_value());
  CHECK(live.err().message
        == "partitioner '" + std::string(to_string(kind))
             + "' cannot stream a live source (hash or modulo)");
}
