#include "recflow/graph/wire.hpp"
#include "recflow/graph/wire_codec.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace recflow::wire {

const char* to_string(kind k) noexcept {
  switch (k) {
    case kind::batch: return "batch";
    case kind::user_slice: return "user slice";
    case kind::item_slice: return "item slice";
    case kind::user_rows: return "user rows";
    case kind::item_rows: return "item rows";
    case kind::als_layout: return "ALS block layout";
    case kind::als_rows: return "ALS rows";
    case kind::implicit_events: return "implicit events";
    case kind::implicit_ids: return "implicit ids";
    case kind::implicit_rows: return "implicit rows";
    case kind::implicit_shard: return "implicit shard";
  }
  return "unknown";
}

namespace {

using namespace detail;

constexpr std::size_t stamp_bytes = 8 + 8 + 8 + 8 + 1;
constexpr std::size_t rating_bytes = 8 + 8 + 4 + 8;
constexpr std::size_t user_route_bytes = 8 + 4 + 4;
constexpr std::size_t item_route_bytes = 8 + 4 + 4 + 4;
constexpr std::size_t rows_meta_bytes = rows_frame_bytes(0, 0, 0, 0, false) - header_bytes;

void put_stamp(writer& w, const batch_stamp& s) noexcept {
  w.put(s.batch);
  w.put(s.offset);
  w.put(s.mu);
  w.put(s.mu_count);
  w.put(static_cast<std::uint8_t>(s.snapshot ? 1 : 0));
}

batch_stamp get_stamp(reader& r) noexcept {
  batch_stamp s;
  s.batch = r.get<std::uint64_t>();
  s.offset = r.get<std::uint64_t>();
  s.mu = r.get<double>();
  s.mu_count = r.get<std::uint64_t>();
  s.snapshot = r.get<std::uint8_t>() != 0;
  return s;
}

result<void> check_stamp(kind k, const batch_stamp& s) {
  if (!std::isfinite(s.mu))
    return bad(k, "the stamp's mean is not finite");
  return {};
}

}  // namespace

bytes encode_batch(const batch_stamp& stamp, const rating_batch& b) {
  writer w(kind::batch, stamp_bytes + 4 + b.size() * rating_bytes);
  put_stamp(w, stamp);
  w.put(static_cast<std::uint32_t>(b.size()));
  for (const auto& e : b.ratings) {
    w.put(e.user);
    w.put(e.item);
    w.put(e.value);
    w.put(e.timestamp);
  }
  return std::move(w).done();
}

bytes encode_user_slice(const batch_stamp& stamp, std::span<const user_route> routes) {
  writer w(kind::user_slice, stamp_bytes + 4 + routes.size() * user_route_bytes);
  put_stamp(w, stamp);
  w.put(static_cast<std::uint32_t>(routes.size()));
  for (const auto& r : routes) {
    w.put(r.user);
    w.put(r.pos);
    w.put(r.item_shard);
  }
  return std::move(w).done();
}

bytes encode_item_slice(const batch_stamp& stamp, std::span<const item_route> routes) {
  writer w(kind::item_slice, stamp_bytes + 4 + routes.size() * item_route_bytes);
  put_stamp(w, stamp);
  w.put(static_cast<std::uint32_t>(routes.size()));
  for (const auto& r : routes) {
    w.put(r.item);
    w.put(r.value);
    w.put(r.pos);
    w.put(r.user_shard);
  }
  return std::move(w).done();
}

bytes encode_rows(kind k, const rows_source& s) {
  auto n_rows = s.gather.size();
  // User rows always say they carry biases, also when the block has no rows (the sender's
  // working set is empty then and `bias` may be null).
  bool has_bias = k == kind::user_rows;
  std::size_t payload =
    rows_frame_bytes(s.local.size(), s.errors.size(), n_rows, s.rank, has_bias) - header_bytes;
  writer w(k, payload);
  w.put(s.batch);
  w.put(s.pass);
  w.put(s.from);
  w.put(s.rank);
  w.put(static_cast<std::uint32_t>(s.local.size()));
  w.put(static_cast<std::uint32_t>(n_rows));
  w.put(static_cast<std::uint32_t>(s.errors.size()));
  w.put(static_cast<std::uint8_t>(has_bias ? 1 : 0));
  w.put_bytes(s.local.data(), s.local.size() * 4);
  w.put_bytes(s.errors.data(), s.errors.size() * 8);
  if (has_bias)
    for (auto slot : s.gather)
      w.put(s.bias[slot]);
  auto row_bytes = std::size_t(s.rank) * 4;
  for (auto slot : s.gather)
    w.put_bytes(s.factors + std::size_t(slot) * s.rank, row_bytes);
  return std::move(w).done();
}

result<kind> peek_kind(std::span<const char> blob) {
  reader r(blob);
  if (!r.need(header_bytes))
    return error{errc::corrupt, "malformed frame: truncated header: " + std::to_string(blob.size())
                                  + " of " + std::to_string(header_bytes) + " bytes"};
  if (r.get<std::uint32_t>() != magic)
    return error{errc::corrupt, "malformed frame: bad magic (not a recflow frame, or a peer of "
                                "the other byte order)"};
  auto v = r.get<std::uint16_t>();
  if (v != format_version)
    return error{errc::corrupt, "malformed frame: format version " + std::to_string(v)
                                  + ", this build reads " + std::to_string(format_version)};
  auto k = r.get<std::uint16_t>();
  if (k < static_cast<std::uint16_t>(kind::batch) || k > static_cast<std::uint16_t>(kind::als_rows))
    return error{errc::corrupt, "malformed frame: unknown kind " + std::to_string(k)};
  reader again(blob);
  if (auto ok = open(again, blob, static_cast<kind>(k)); !ok)
    return ok.err();
  return static_cast<kind>(k);
}

result<stamped_ratings> decode_batch(std::span<const char> blob) {
  constexpr auto k = kind::batch;
  reader r(blob);
  if (auto ok = open(r, blob, k, stamp_bytes + 4, "truncated before the rating count"); !ok)
    return ok.err();
  stamped_ratings out;
  out.stamp = get_stamp(r);
  if (auto ok = check_stamp(k, out.stamp); !ok)
    return ok.err();
  auto n = r.get<std::uint32_t>();
  if (auto ok = expect_records(r, k, n, rating_bytes, "ratings"); !ok)
    return ok.err();
  out.ratings.ratings.resize(n);
  for (auto& e : out.ratings.ratings) {
    e.user = r.get<std::int64_t>();
    e.item = r.get<std::int64_t>();
    e.value = r.get<float>();
    e.timestamp = r.get<std::int64_t>();
    if (!std::isfinite(e.value))
      return bad(k, "a rating value is not finite");
  }
  return out;
}

result<user_routes> decode_user_slice(std::span<const char> blob, std::uint32_t item_shards) {
  constexpr auto k = kind::user_slice;
  reader r(blob);
  if (auto ok = open(r, blob, k, stamp_bytes + 4, "truncated before the route count"); !ok)
    return ok.err();
  user_routes out;
  out.stamp = get_stamp(r);
  if (auto ok = check_stamp(k, out.stamp); !ok)
    return ok.err();
  auto n = r.get<std::uint32_t>();
  if (auto ok = expect_records(r, k, n, user_route_bytes, "routes"); !ok)
    return ok.err();
  out.routes.resize(n);
  for (auto& x : out.routes) {
    x.user = r.get<std::int64_t>();
    x.pos = r.get<std::uint32_t>();
    x.item_shard = r.get<std::uint32_t>();
    if (x.item_shard >= item_shards)
      return bad(k, "item shard " + std::to_string(x.item_shard) + " out of range (there are "
                      + std::to_string(item_shards) + ")");
  }
  return out;
}

result<item_routes> decode_item_slice(std::span<const char> blob, std::uint32_t user_shards) {
  constexpr auto k = kind::item_slice;
  reader r(blob);
  if (auto ok = open(r, blob, k, stamp_bytes + 4, "truncated before the route count"); !ok)
    return ok.err();
  item_routes out;
  out.stamp = get_stamp(r);
  if (auto ok = check_stamp(k, out.stamp); !ok)
    return ok.err();
  auto n = r.get<std::uint32_t>();
  if (auto ok = expect_records(r, k, n, item_route_bytes, "routes"); !ok)
    return ok.err();
  out.routes.resize(n);
  for (auto& x : out.routes) {
    x.item = r.get<std::int64_t>();
    x.value = r.get<float>();
    x.pos = r.get<std::uint32_t>();
    x.user_shard = r.get<std::uint32_t>();
    if (!std::isfinite(x.value))
      return bad(k, "a rating value is not finite");
    if (x.user_shard >= user_shards)
      return bad(k, "user shard " + std::to_string(x.user_shard) + " out of range (there are "
                      + std::to_string(user_shards) + ")");
  }
  return out;
}

result<rows> decode_rows(std::span<const char> blob, kind k) {
  if (k != kind::user_rows && k != kind::item_rows)
    return bad(k, "not a rows kind");
  reader r(blob);
  if (auto ok = open(r, blob, k, rows_meta_bytes, "truncated before the counts"); !ok)
    return ok.err();
  rows out;
  out.batch = r.get<std::uint64_t>();
  out.pass = r.get<std::uint32_t>();
  out.from = r.get<std::uint32_t>();
  out.rank = r.get<std::uint32_t>();
  auto n_local = r.get<std::uint32_t>();
  out.n_rows = r.get<std::uint32_t>();
  auto n_errors = r.get<std::uint32_t>();
  auto has_bias = r.get<std::uint8_t>();
  if (out.rank == 0 || out.rank > max_rank)
    return bad(k, "rank " + std::to_string(out.rank) + " outside 1.." + std::to_string(max_rank));
  if (has_bias > 1)
    return bad(k, "bias flag " + std::to_string(has_bias));
  if ((k == kind::user_rows) != (has_bias == 1))
    return bad(k, k == kind::user_rows ? "user rows without biases" : "item rows with biases");
  if (k == kind::user_rows && n_errors != 0)
    return bad(k, "user rows with errors");
  // Sizes in 64 bits: u32 counts times at most 4096 x 8 bytes cannot overflow.
  std::uint64_t need = std::uint64_t(n_local) * 4 + std::uint64_t(n_errors) * 8
                       + (has_bias ? std::uint64_t(out.n_rows) * 8 : 0)
                       + std::uint64_t(out.n_rows) * out.rank * 4;
  if (need != r.left())
    return bad(k, std::to_string(n_local) + " indices, " + std::to_string(n_errors) + " errors and "
                    + std::to_string(out.n_rows) + " rows of rank " + std::to_string(out.rank)
                    + " need " + std::to_string(need) + " bytes, " + std::to_string(r.left())
                    + " follow");
  out.local.resize(n_local);
  r.get_bytes(out.local.data(), std::size_t(n_local) * 4);
  for (auto l : out.local)
    if (l >= out.n_rows)
      return bad(k, "row index " + std::to_string(l) + " out of range (" + std::to_string(out.n_rows)
                      + " rows)");
  out.errors.resize(n_errors);
  r.get_bytes(out.errors.data(), std::size_t(n_errors) * 8);
  if (has_bias) {
    out.bias.resize(out.n_rows);
    r.get_bytes(out.bias.data(), std::size_t(out.n_rows) * 8);
  }
  out.factors.resize(std::size_t(out.n_rows) * out.rank);
  r.get_bytes(out.factors.data(), out.factors.size() * 4);
  if (!all_finite(std::span<const double>(out.errors)))
    return bad(k, "an error holds NaN or infinity");
  if (!all_finite(std::span<const double>(out.bias)) || !all_finite(std::span<const float>(out.factors)))
    return bad(k, "a row holds NaN or infinity");
  return out;
}

}  // namespace recflow::wire
