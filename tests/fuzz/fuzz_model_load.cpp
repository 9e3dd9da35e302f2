// Fuzzes the model (and checkpoint) loader: any bytes as a model file. A file that loads
// must be a valid model (sizes agree, predictions finite) and survive a save/load round
// trip unchanged; anything else must be an error, never a crash or an out-of-bounds read.
//
// Each input is loaded twice: as it is, and with its last 8 bytes replaced by the XXH64 of
// the bytes before them, the checksum the format ends with. Almost every mutation breaks
// the checksum, so without the second load the fuzzer would hardly ever get past it to the
// header, the sections and the checks of their meaning. The switch lives here, in the
// fuzz target only: the loader itself always verifies the checksum.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_util.hpp"
#include "recflow/model/model_io.hpp"

using namespace recflow;

namespace {

void check_file(const std::uint8_t* data, std::size_t size) {
  const auto& path = fuzz::scratch_path("model");
  fuzz::write_file(path, data, size);
  auto info = read_model_info(path);
  model_metadata meta;
  auto model = load_model(path, meta);
  if (!model)
    return;
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_file(data, size);
  if (size < 8)
    return 0;
  std::vector<std::uint8_t> fixed(data, data + size);
  auto body = std::as_bytes(std::span(fixed.data(), size - 8));
  auto sum = xxhash64(body);
  for (int b = 0; b < 8; ++b)  // little-endian, as the format stores it
    fixed[size - 8 + b] = static_cast<std::uint8_t>(sum >> (8 * b));
  check_file(fixed.data(), fixed.size());
  return 0;
}
