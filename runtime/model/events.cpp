#include "recflow/model/events.hpp"

#include <algorithm>

namespace recflow {

std::vector<rating> merge_events(std::span<const rating> events) {
  std::vector<rating> out(events.begin(), events.end());
  std::stable_sort(out.begin(), out.end(), [](const rating& a, const rating& b) {
    return a.user != b.user ? a.user < b.user : a.item < b.item;
  });
  std::size_t kept = 0;
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (kept > 0 && out[kept - 1].user == out[k].user && out[kept - 1].item == out[k].item) {
      out[kept - 1].value += out[k].value;
      out[kept - 1].timestamp = std::max(out[kept - 1].timestamp, out[k].timestamp);
    } else {
      out[kept++] = out[k];
    }
  }
  out.resize(kept);
  return out;
}

std::vector<rating> events_from_ratings(std::span<const rating> ratings, double threshold) {
  std::vector<rating> out;
  for (const auto& r : ratings)
    if (static_cast<double>(r.value) >= threshold)
      out.push_back({r.user, r.item, 1.0f, r.timestamp});
  return out;
}

}  // namespace recflow
