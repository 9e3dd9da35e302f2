// Fuzzes node messages as a peer's frames deliver them: any bytes as a serialized CAF
// message, loaded by CAF 0.17's binary deserializer with every type a recflow node
// registers (the graph's, the cluster's and batch ALS's messages). Loading must end in an
// error or a message, never a crash, an out-of-bounds read or an allocation the input does
// not justify (libFuzzer's malloc limit stops one); a message that loads must print
// (caf::to_string walks every field, as a log line would).
//
// It does not serialize what it loaded: CAF 0.17's binary serializer never returns from
// an infinite float or double (its IEEE-754 packing halves the value until it is below 2),
// and a loaded message may hold one. recflow ships factors between processes as raw bytes
// in wire frames, whose decoders refuse non-finite values; see docs/security.md.
#include <cstdint>
#include <memory>

#include <caf/all.hpp>

#include "fuzz_util.hpp"
#include "recflow/actors/cluster_messages.hpp"
#include "recflow/actors/messages.hpp"

using namespace recflow;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  system_fixture() {
    add_graph_message_types(cfg);
    add_cluster_message_types(cfg);  // with batch ALS's
    cfg.set("scheduler.max-threads", 1);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Never destroyed: torn down among the other statics at exit, CAF's actor system
  // crashed in caf::ref_counted::deref.
  static auto* fixture = new system_fixture;
  auto& sys = *fixture->sys;
  caf::message msg;
  caf::binary_deserializer source{sys, reinterpret_cast<const char*>(data), size};
  if (source(msg) || msg.empty())
    return 0;
  if (caf::to_string(msg).empty())
    fuzz::fail("a loaded message prints as nothing");
  return 0;
}
