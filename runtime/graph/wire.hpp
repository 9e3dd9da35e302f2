/// The wire format of the streaming graph across processes: a batch, a routed slice or
/// a pass's factor rows as one contiguous byte blob (CAF serializes a `vector<char>`
/// about 10x faster than a vector of structs). Pure functions over bytes, no CAF.
///
///   auto blob = wire::encode_user_slice(stamp, routes);        // sender
///   auto s = wire::decode_user_slice(blob, item_shards);       // receiver: result<>
///   if (!s) reject(s.err().message);                           // never reads past the end
///
/// Layout (native byte order; a peer of the other order fails the magic check):
///   header   u32 magic "RFLW" | u16 format version | u16 kind | u64 payload bytes
///   batch    stamp | u32 n | n x (i64 user, i64 item, f32 value, i64 timestamp)
///   slices   stamp | u32 n | n x (i64 user, u32 pos, u32 item shard)            (users)
///                          | n x (i64 item, f32 value, u32 pos, u32 user shard) (items)
///   rows     u64 batch | u32 pass, from, rank, n_local, n_rows, n_errors | u8 has_bias
///            | n_local x u32 (row of each rating, < n_rows) | n_errors x f64
///            | (has_bias ? n_rows x f64) | n_rows x rank x f32
///   stamp    u64 batch, offset | f64 mu | u64 mu_count | u8 snapshot
/// The decoder checks the magic, version, kind, that the payload size is exactly what
/// the counts imply (no overflow, no trailing bytes), every index bound it can know
/// (row indices < n_rows, shard numbers < the receiver's shard count), rank limits and
/// that ratings, the mean, errors, biases and factor rows are finite (a NaN or infinity
/// from a peer would poison the model; a model that diverges on nodes therefore ends its
/// job with a rejected frame, where the local engine trains on). Any violation is an
/// errc::corrupt error saying what is wrong.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recflow/graph/batch.hpp"
#include "recflow/graph/routes.hpp"
#include "recflow/model/error.hpp"

namespace recflow::wire {

inline constexpr std::uint32_t magic = 0x574c4652;  ///< "RFLW" in little-endian bytes
inline constexpr std::uint16_t format_version = 3;  ///< 2: factor rows as f32; 3: ALS rows with a Gram matrix
inline constexpr std::size_t header_bytes = 16;
inline constexpr std::uint32_t max_rank = 4096;  ///< larger ranks are rejected as hostile

/// Bytes of a rows blob: the header, its fixed fields, then 4 per rating index, 8 per
/// error and per bias, rank x 4 per row.
constexpr std::size_t rows_frame_bytes(std::size_t n_local, std::size_t n_errors,
                                       std::size_t n_rows, std::uint32_t rank,
                                       bool has_bias) noexcept {
  constexpr std::size_t meta = 8 + 6 * 4 + 1;  // batch, pass..n_errors, has_bias
  return header_bytes + meta + n_local * 4 + n_errors * 8 + (has_bias ? n_rows * 8 : 0)
         + n_rows * std::size_t(rank) * 4;
}

/// What a blob holds.
enum class kind : std::uint16_t {
  batch = 1,       ///< a stamped batch of ratings
  user_slice = 2,  ///< the ratings routed to one user owner
  item_slice = 3,  ///< the ratings routed to one item owner
  user_rows = 4,   ///< user owner -> item owner: pass-start user biases and factors
  item_rows = 5,   ///< item owner -> user owner: errors and pass-start item factors
  als_layout = 6,  ///< batch ALS, driver -> node: one block's layout and initial rows (als_wire.hpp)
  als_rows = 7,    ///< batch ALS, block -> block: a half-iteration's rows (als_wire.hpp)
  implicit_events = 8,  ///< streaming implicit ALS, driver -> owner: a batch's events (implicit_wire.hpp)
  implicit_ids = 9,     ///< owner -> owner: the other side's ids a solve needs
  implicit_rows = 10,   ///< owner -> owner: rows of those ids
  implicit_shard = 11,  ///< driver <-> owner: a whole shard (seed, snapshot)
};
const char* to_string(kind k) noexcept;

using bytes = std::vector<char>;

/// A pass's rows as they travel: which rows each rating of the block uses (pass 0 only),
/// per-rating errors (item rows), biases (user rows) and factors of the distinct rows.
struct rows {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::uint32_t from = 0;   ///< the sender's shard
  std::uint32_t rank = 0;
  std::uint32_t n_rows = 0;
  std::vector<std::uint32_t> local;  ///< row of each rating of the block (may be empty)
  std::vector<double> errors;        ///< item rows: each rating's error, block order
  std::vector<double> bias;          ///< user rows: n_rows biases
  std::vector<float> factors;        ///< n_rows x rank
};

/// What a rows blob is built from, without copying: the rows are gathered from the
/// sender's working set (`bias` is read for user rows only; null is fine for item rows
/// and for an empty `gather`).
struct rows_source {
  std::uint64_t batch = 0;
  std::uint32_t pass = 0;
  std::uint32_t from = 0;
  std::uint32_t rank = 0;
  std::span<const std::uint32_t> local;   ///< row (index into gather) of each rating
  std::span<const std::uint32_t> gather;  ///< working-set slot of each shipped row
  std::span<const double> errors;
  const double* bias = nullptr;    ///< by slot
  const float* factors = nullptr;  ///< rank floats per slot
};

struct stamped_ratings {
  batch_stamp stamp;
  rating_batch ratings;
};
struct user_routes {
  batch_stamp stamp;
  std::vector<user_route> routes;
};
struct item_routes {
  batch_stamp stamp;
  std::vector<item_route> routes;
};

bytes encode_batch(const batch_stamp& stamp, const rating_batch& b);
bytes encode_user_slice(const batch_stamp& stamp, std::span<const user_route> routes);
bytes encode_item_slice(const batch_stamp& stamp, std::span<const item_route> routes);
/// `k` is kind::user_rows or kind::item_rows.
bytes encode_rows(kind k, const rows_source& src);

/// The kind of a blob after checking its header (magic, version, declared size).
result<kind> peek_kind(std::span<const char> blob);
result<stamped_ratings> decode_batch(std::span<const char> blob);
/// Every route's item shard must be below `item_shards`.
result<user_routes> decode_user_slice(std::span<const char> blob, std::uint32_t item_shards);
/// Every route's user shard must be below `user_shards`.
result<item_routes> decode_item_slice(std::span<const char> blob, std::uint32_t user_shards);
/// A rows blob of kind `k`.
result<rows> decode_rows(std::span<const char> blob, kind k);

}  // namespace recflow::wire
