// Quickstart: train batch ALS on MovieLens 100K, then keep it learning from a stream.
// Run: build/example_quickstart data/ml-100k   (or ../shared/data/ml-100k)
#include <iostream>

#include <recflow/data/ingest.hpp>
#include <recflow/model/als.hpp>
#include <recflow/model/metrics.hpp>
#include <recflow/model/streaming.hpp>

int main(int argc, char** argv) {
  using namespace recflow;
  std::string dir = argc > 1 ? argv[1] : "data/ml-100k";
  auto train = read_ratings(dir + "/u1.base");
  auto test = read_ratings(dir + "/u1.test");
  if (!train || !test) {
    std::cerr << (train ? test.err() : train.err()).message << '\n';
    return 1;
  }
  auto model = train_als(*train, als_params{.rank = 10, .iterations = 10});
  if (!model) {
    std::cerr << model.err().message << '\n';
    return 1;
  }
  std::cout << "batch ALS test RMSE " << evaluate(*model, *test).rmse << '\n';

  // Seed a streaming trainer with the ALS model and feed it the test ratings as new data.
  auto stream = streaming_trainer::make(stream_params{.rank = 10}, std::move(*model));
  if (!stream) {
    std::cerr << stream.err().message << '\n';
    return 1;
  }
  for (std::size_t k = 0; k < test->size(); k += 1000) {
    auto n = std::min<std::size_t>(1000, test->size() - k);
    stream->apply({test->ratings.data() + k, n}, test->users, test->items);
  }
  std::cout << "after streaming u1.test in: RMSE on it " << evaluate(stream->model(), *test).rmse
            << '\n';
}
