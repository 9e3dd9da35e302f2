#include "recflow/graph/als_layout.hpp"

namespace recflow {

std::uint32_t als_block_layout::expected_messages() const noexcept {
  std::uint32_t n = 0;
  for (std::size_t t = 0; t + 1 < in_offsets.size(); ++t)
    n += in_offsets[t + 1] > in_offsets[t] ? 1 : 0;
  return n;
}

std::uint64_t als_block_layout::rows_out() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : out_rows)
    n += r.size();
  return n;
}

}  // namespace recflow
