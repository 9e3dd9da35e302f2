// A source stream with a wrapper that adds ratings (as ratings posted to a server do):
// checkpoints count only the source's ratings and positions, so a resume continues the
// source exactly after what it delivered and ends with the uninterrupted run's model.
#include <catch2/catch.hpp>

#include <set>

#include "cli_test_util.hpp"
#include "engine_test_util.hpp"
#include "recflow/engine/stream_job.hpp"

using namespace recflow;
using recflow::test::planted_batches;
using recflow::test::source_job;
using recflow::test::pos;
using recflow::test::recording_source;
using recflow::test::scratch_dir;

namespace {

std::shared_ptr<rating_source> make_source(const std::vector<rating_batch>& batches,
                                           bool positioned) {
  if (positioned)
    return std::make_shared<recording_source>(batches);
  std::vector<rating_event> all;
  for (const auto& b : batches)
    all.insert(all.end(), b.ratings.begin(), b.ratings.end());
  return memory_source(std::move(all), {.max_ratings = 1000});
}

/// A wrapper that appends one "posted" rating to the batches whose number (counted over
/// the whole stream, from `first` + 1 in this run) is in `at`, and after the source ends
/// adds one batch of posted ratings only when `tail` (as serve::stream_link does).
/// Positions and acknowledgements pass through.
std::function<std::shared_ptr<rating_source>(std::shared_ptr<rating_source>)>
poster(std::uint64_t first, std::set<std::uint64_t> at, bool tail) {
  return [=](std::shared_ptr<rating_source> inner) -> std::shared_ptr<rating_source> {
    class adding final : public rating_source {
     public:
      adding(std::shared_ptr<rating_source> in, std::uint64_t n, std::set<std::uint64_t> a, bool t)
          : inner_(std::move(in)), n_(n), at_(std::move(a)), tail_(t) {}
      result<std::optional<rating_batch>> next() override {
        auto got = inner_->next();
        if (!got)
          return got;
        ++n_;
        rating_event posted{.user = 999'999, .item = 1 + std::int64_t(n_ % 50), .value = 4.5f};
        if (!*got) {
          if (!tail_)
            return got;
          tail_ = false;
          rating_batch b;
          b.ratings.push_back(posted);
          b.position = "posted-only";  // the ledger must put the source's position back
          return std::optional<rating_batch>{std::move(b)};
        }
        if (at_.count(n_))
          (*got)->ratings.push_back(posted);
        return got;
      }
      result<void> resume_after(const std::string& p) override { return inner_->resume_after(p); }
      void applied(const std::string& p) override { inner_->applied(p); }

     private:
      std::shared_ptr<rating_source> inner_;
      std::uint64_t n_;
      std::set<std::uint64_t> at_;
      bool tail_;
    };
    return std::make_shared<adding>(std::move(inner), first, at, tail);
  };
}

}  // namespace

TEST_CASE("engine serve sources: ratings a wrapper adds stay out of the checkpoint mark, and "
          "a resume applies exactly the source ratings not yet applied",
          "[engine][checkpoint][serve]") {
  const bool positioned = GENERATE(false, true);
  INFO((positioned ? "positioned source" : "source without positions"));
  scratch_dir dir;
  stream_params params;
  params.rank = 6;
  params.passes = 2;
  auto batches = planted_batches();

  stream_job_options whole_o;
  whole_o.wrap_source = poster(0, {2, 5, 9}, true);
  auto whole_src = make_source(batches, positioned);
  auto whole = run_stream_job(source_job(whole_o, params, whole_src));
  REQUIRE(whole.has_value());
  if (positioned) {  // once per source batch: the posted-only batch 21 repeats p20 and is not acked again
    auto acked = static_cast<recording_source&>(*whole_src).acked();
    REQUIRE(acked.size() == 20);
    for (std::size_t j = 0; j < acked.size(); ++j)
      CHECK(acked[j] == pos(j + 1));
  }
  CHECK(whole->mark.batches == 21);  // 20 of the source, one of posted ratings only
  CHECK(whole->mark.ratings == 20'000);
  CHECK(whole->added_ratings == 4);
  CHECK(whole->model.mu_count() == 20'004);
  CHECK(whole->mark.position == (positioned ? "p20" : ""));

  // Stopped after 6 batches (checkpoints after 4 and 6), two of them with a posted rating.
  stream_job_options o;
  o.checkpoints = {dir.file("ck"), 4, 2};
  o.max_batches = 6;
  o.wrap_source = poster(0, {2, 5, 9}, true);
  auto src = make_source(batches, positioned);
  auto first = run_stream_job(source_job(o, params, src));
  REQUIRE(first.has_value());
  CHECK(first->mark.batches == 6);
  CHECK(first->mark.ratings == 6'000);  // the source's own: 6,002 were trained on
  CHECK(first->added_ratings == 2);
  CHECK(first->reports.back().ratings_seen == 6'000);
  CHECK(first->mark.position == (positioned ? "p6" : ""));
  if (positioned) {  // each batch acknowledged once, with the source's position
    auto acked = static_cast<recording_source&>(*src).acked();
    REQUIRE(acked.size() == 6);
    CHECK(acked.back() == "p6");
  }

  o.max_batches = 0;
  o.resume = true;
  o.wrap_source = poster(6, {9}, true);
  stream_mark resumed_mark;
  o.on_resume = [&](const factor_model&, const stream_mark& m) { resumed_mark = m; };
  std::vector<std::uint64_t> handed;
  o.on_model = [&](std::uint64_t batch, factor_model&&) { handed.push_back(batch); };
  o.publish_interval = std::chrono::milliseconds(0);
  auto rest = run_stream_job(source_job(o, params, make_source(batches, positioned)));
  REQUIRE(rest.has_value());
  CHECK(resumed_mark == first->mark);
  CHECK(rest->reports.size() == 15);  // 14 source batches and the posted-only one
  CHECK(rest->reports.front().batch == 7);
  REQUIRE_FALSE(handed.empty());
  CHECK(handed.front() == 7);  // model versions continue the resumed run
  CHECK(handed.back() == 21);
  CHECK(rest->mark.batches == 21);
  CHECK(rest->mark.ratings == 20'000);
  CHECK(rest->mark.position == whole->mark.position);
  CHECK(rest->model == whole->model);  // bit for bit: the same batches, posted ones included
}

TEST_CASE("engine serve sources: wrapping and handing models over are refused with nodes",
          "[engine][serve]") {
  stream_job_options o;
  o.where = on_nodes{.nodes = {node_endpoint{"127.0.0.1", 1}}};
  o.on_model = [](std::uint64_t, factor_model&&) {};
  stream_params params;
  params.rank = 4;
  auto run = run_stream_job(source_job(o, params, make_source(planted_batches(), false)));
  REQUIRE_FALSE(run.has_value());
  CHECK_THAT(run.err().message, Catch::Contains("local engine"));
}
