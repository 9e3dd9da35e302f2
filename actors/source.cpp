#include "recflow/actors/source.hpp"

#include <exception>

namespace recflow {

source_event source_state::pull() {
  if (final_)
    return *final_;
  source_event ev;
  try {
    auto r = src_->next();
    if (!r) {
      ev.kind = source_event::failed;
      ev.err = r.err();
    } else if (!*r) {
      ev.kind = source_event::end;
    } else {
      ev.kind = source_event::batch;
      ev.ratings = std::move(**r);
      ++batches_;
      return ev;
    }
  } catch (const std::exception& e) {
    ev.kind = source_event::failed;
    ev.err = {errc::io, std::string("source threw: ") + e.what()};
  } catch (...) {
    ev.kind = source_event::failed;
    ev.err = {errc::io, "source threw a non-standard exception"};
  }
  final_ = ev;
  return ev;
}

namespace {

struct source_actor {
  std::optional<source_state> core;
  static inline const char* name = "recflow.source";
};

caf::behavior source_fn(caf::stateful_actor<source_actor>* self,
                        std::shared_ptr<rating_source> src, caf::actor coordinator) {
  self->state.core.emplace(std::move(src));
  return {
    [=](pull_atom) {
      auto ev = self->state.core->pull();
      switch (ev.kind) {
        case source_event::batch:
          self->send(coordinator, std::move(ev.ratings));
          break;
        case source_event::end:
          self->send(coordinator, end_atom::value);
          break;
        case source_event::failed:
          self->send(coordinator,
                     source_failed{static_cast<std::uint8_t>(ev.err.code), ev.err.message});
          break;
      }
    },
  };
}

}  // namespace

caf::actor spawn_source(caf::actor_system& sys, std::shared_ptr<rating_source> src,
                        caf::actor coordinator) {
  return sys.spawn<caf::detached>(source_fn, std::move(src), std::move(coordinator));
}

}  // namespace recflow
