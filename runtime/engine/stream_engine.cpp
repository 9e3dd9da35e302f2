#include "recflow/engine/stream_engine.hpp"

#include <limits>
#include <string>

#include "recflow/engine/coordinator.hpp"

namespace recflow {

result<void> validate(const engine_options& o) {
  if (o.workers == 0)
    return error{errc::invalid_argument, "workers must be positive, got 0"};
  if (o.max_in_flight == 0)
    return error{errc::invalid_argument, "max in-flight batches must be positive, got 0"};
  if (auto ok = validate(o.priority); !ok)
    return ok;
  if (o.stall_timeout.count() <= 0)
    return error{errc::invalid_argument, "stall timeout must be positive, got "
                                           + std::to_string(o.stall_timeout.count()) + " ms"};
  return {};
}

namespace {
constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();
}  // namespace

result<run_summary> stream_engine::run(const batch_callback& on_batch) {
  return core_->drive(unlimited, {}, on_batch);
}

result<run_summary> stream_engine::run_n(std::size_t batches, const batch_callback& on_batch) {
  return core_->drive(batches, {}, on_batch);
}

result<run_summary> stream_engine::run_until(const stop_predicate& stop,
                                             const batch_callback& on_batch) {
  return core_->drive(unlimited, stop, on_batch);
}

const std::vector<batch_metrics>& stream_engine::history() const noexcept {
  return core_->history();
}
bool stream_engine::finished() const noexcept { return core_->finished(); }
const streaming_graph& stream_engine::graph() const noexcept { return core_->graph(); }

}  // namespace recflow
