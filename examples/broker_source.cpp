// A user's own broker source in one file: batches carry positions (offsets), the engine
// acknowledges what every owner applied, and a restart resumes after a checkpoint. The
// "broker" here is an in-memory log standing in for a Kafka partition; the comments say
// which librdkafka call each method would make.
//
//   ./example_broker_source
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <recflow/engine/stream_job.hpp>

using namespace recflow;

/// Reads a log of ratings (one partition, offsets 0, 1, ...) in batches of 1,000.
class log_source final : public rating_source {
 public:
  explicit log_source(const std::vector<rating_event>& log) : log_(log) {}

  // Kafka: rd_kafka_consumer_poll() until 1,000 ratings or the batch interval; a bad
  // message is counted and skipped. The position is the last offset in the batch.
  result<std::optional<rating_batch>> next() override {
    if (next_offset_ >= log_.size())
      return std::optional<rating_batch>{};  // Kafka would keep polling; this log ends
    rating_batch b;
    while (next_offset_ < log_.size() && b.size() < 1000)
      b.ratings.push_back(log_[next_offset_++]);
    b.position = std::to_string(next_offset_ - 1);
    return std::optional<rating_batch>{std::move(b)};
  }
  // Kafka: rd_kafka_assign() with the offset after `position` (rd_kafka_seek() if assigned).
  result<void> resume_after(const std::string& position) override {
    next_offset_ = std::stoull(position) + 1;
    return {};
  }
  // Kafka: rd_kafka_commit() of the offset after `position` (called once every owner
  // has applied the batch; called from the engine's thread).
  void applied(const std::string& position) override { committed_ = position; }

 private:
  const std::vector<rating_event>& log_;
  std::size_t next_offset_ = 0;
  std::string committed_;
};

int main() {
  std::vector<rating_event> log;
  for (int k = 0; k < 20'000; ++k)
    log.push_back({k % 97, (k * 7) % 53, float(1 + k % 5), k});
  auto dir = (std::filesystem::temp_directory_path() / "recflow-broker-example").string();
  std::filesystem::remove_all(dir);
  stream_params training;
  training.rank = 8;
  stream_job_options o{.training = training, .checkpoints = {.dir = dir, .every = 5, .keep = 2}};

  o.input = source_input{std::make_shared<log_source>(log), {1.0, 5.0}};
  o.max_batches = 12;  // the "crash": stop after 12 of the 20 batches
  auto first = run_stream_job(o);
  o.input = source_input{std::make_shared<log_source>(log), {1.0, 5.0}};
  o.max_batches = 0;
  o.resume = true;  // the restart: newest checkpoint, then the source continues after it
  auto rest = run_stream_job(o);
  if (!first || !rest) {
    std::fprintf(stderr, "%s\n", (!first ? first.err() : rest.err()).message.c_str());
    return 1;
  }
  std::printf("first run: %llu batches; resumed from %s: %zu more batches, %llu ratings in all "
              "(position %s)\n",
              (unsigned long long)first->mark.batches, rest->resumed_from.value_or("-").c_str(),
              rest->reports.size(), (unsigned long long)rest->mark.ratings,
              rest->mark.position.c_str());
  std::filesystem::remove_all(dir);
}
