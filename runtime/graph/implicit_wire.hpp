/// The wire format of streaming implicit ALS across processes: a batch's events (driver ->
/// owner), the other side's ids a solve needs and their rows (owner -> owner), and a whole
/// shard (driver -> owner as its seed, owner -> driver as a snapshot). Each is one byte
/// blob with the header of graph/wire.hpp. Pure functions over bytes, no CAF.
///
///   auto blob = wire::encode_implicit_events(batch, events);   // driver
///   auto got = wire::decode_implicit_events(blob);             // owner: result<>, checked
///
/// Layout (native byte order, after the 16-byte header):
///   implicit_events  u64 batch | u32 n | n x (i64 user, i64 item, f32 weight, u64 stamp)
///   implicit_ids     u64 batch | u32 pass | u8 side | u32 n | n x i64 id
///   implicit_rows    u64 batch | u32 pass | u8 side | u32 rank, n | n x i64 id
///                    | n x rank x f32
///   implicit_shard   u8 side | u32 rank, n | u64 m | n x i64 id | n x rank x f32
///                    | (n + 1) x u64 offset | m x (i64 other, f32 weight, u64 stamp)
/// The decoders check the header, that the payload is exactly what the counts imply, the
/// side, the rank (1..max_rank), ids strictly increasing (ids and rows frames), and that
/// weights are positive and rows finite. A shard's own invariants are checked by
/// implicit_shard::from_parts. Violations are errc::corrupt errors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/graph/wire.hpp"
#include "recflow/model/error.hpp"
#include "recflow/model/implicit_stream.hpp"

namespace recflow::wire {

struct implicit_event_batch {
  std::uint64_t batch = 0;
  std::vector<stamped_event> events;
};
bytes encode_implicit_events(std::uint64_t batch, std::span<const stamped_event> events);
result<implicit_event_batch> decode_implicit_events(std::span<const char> blob);

/// Which step a request or an answer belongs to, and the side of the ids.
struct implicit_step {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  side of = side::user;
  friend bool operator==(const implicit_step&, const implicit_step&) = default;
};

struct implicit_id_request {
  implicit_step step;
  std::vector<std::int64_t> ids;
};
bytes encode_implicit_ids(const implicit_step& step, std::span<const std::int64_t> ids);
result<implicit_id_request> decode_implicit_ids(std::span<const char> blob);

struct implicit_row_answer {
  implicit_step step;
  implicit_rows rows;
};
bytes encode_implicit_rows(const implicit_step& step, const implicit_rows& rows);
result<implicit_row_answer> decode_implicit_rows(std::span<const char> blob);

bytes encode_implicit_shard(const implicit_shard_parts& parts);
result<implicit_shard_parts> decode_implicit_shard(std::span<const char> blob);

}  // namespace recflow::wire
