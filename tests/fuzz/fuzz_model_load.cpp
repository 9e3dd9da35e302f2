// Fuzzes the model (and checkpoint) loader: any bytes as a model file. A file that loads
// must be a valid model (sizes agree, predictions finite) and survive a save/load round
// trip unchanged; anything else must be an error, never a crash or an out-of-bounds read.
#include <cmath>
#include <cstdint>

#include "fuzz_util.hpp"
#include "recflow/model/model_io.hpp"

using namespace recflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& path = fuzz::scratch_path("model");
  fuzz::write_file(path, data, size);
  auto info = read_model_info(path);
  model_metadata meta;
  auto model = load_model(path, meta);
  if (!model)
    return 0;
  if (!info)
    fuzz::fail("load_model accepted a file read_model_info refused");
  if (model->n_users() != info->n_users || model->n_items() != info->n_items)
    fuzz::fail("read_model_info disagrees with load_model");
  if (model->n_users() > 0 && model->n_items() > 0 && !std::isfinite(model->predict(0, 0)))
    fuzz::fail("a loaded model predicts a non-finite value");
  auto again = fuzz::scratch_path("model") + ".rt";
  if (!save_model(*model, again, meta))
    fuzz::fail("a loaded model cannot be saved");
  auto back = load_model(again);
  if (!back || !(*back == *model))
    fuzz::fail("a loaded model does not survive a save/load round trip");
  return 0;
}
