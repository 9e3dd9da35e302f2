// The wire format of the streaming graph across processes: round trips, and every
// truncation, flipped count and hostile size is an error, never a read past the end.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>

#include "recflow/graph/wire.hpp"

using namespace recflow;

namespace {

batch_stamp a_stamp() { return {.batch = 7, .offset = 7000, .mu = 3.52, .mu_count = 8000, .snapshot = true}; }

std::vector<user_route> some_user_routes() {
  return {{.user = 1, .pos = 0, .item_shard = 2}, {.user = -5, .pos = 3, .item_shard = 0},
          {.user = std::numeric_limits<std::int64_t>::max(), .pos = 9, .item_shard = 1}};
}
std::vector<item_route> some_item_routes() {
  return {{.item = 42, .value = 4.5f, .pos = 1, .user_shard = 1},
          {.item = -1, .value = 0.5f, .pos = 2, .user_shard = 0}};
}

/// A user-rows blob gathering slots 2 and 0 of a 3-slot working set of rank 2.
struct rows_fixture {
  std::vector<double> bias{0.1, 0.2, 0.3};
  std::vector<float> factors{1, 2, 3, 4, 5, 6};
  std::vector<std::uint32_t> gather{2, 0};
  std::vector<std::uint32_t> local{0, 1, 1, 0};
  std::vector<double> errors{0.5, -0.25, 1.0, 2.0};
  wire::bytes user_rows() const {
    return wire::encode_rows(wire::kind::user_rows, {.batch = 3, .pass = 1, .from = 1, .rank = 2,
                                                     .local = local, .gather = gather,
                                                     .errors = {}, .bias = bias.data(),
                                                     .factors = factors.data()});
  }
  wire::bytes item_rows() const {
    return wire::encode_rows(wire::kind::item_rows, {.batch = 3, .pass = 0, .from = 0, .rank = 2,
                                                     .local = local, .gather = gather,
                                                     .errors = errors, .bias = nullptr,
                                                     .factors = factors.data()});
  }
};

/// Every decoder of every kind, on `blob`: true if any accepted it.
bool any_decoder_accepts(std::span<const char> blob) {
  return wire::decode_batch(blob).has_value() || wire::decode_user_slice(blob, 4).has_value()
         || wire::decode_item_slice(blob, 4).has_value()
         || wire::decode_rows(blob, wire::kind::user_rows).has_value()
         || wire::decode_rows(blob, wire::kind::item_rows).has_value();
}

template <class T>
void poke(wire::bytes& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}

std::vector<wire::bytes> every_kind() {
  rating_batch rb;
  rb.ratings = {{.user = 1, .item = 2, .value = 3.5f, .timestamp = 99}, {.user = 3, .item = 4, .value = 1.0f}};
  rows_fixture f;
  auto us = some_user_routes();
  auto is = some_item_routes();
  return {wire::encode_batch(a_stamp(), rb), wire::encode_user_slice(a_stamp(), us),
          wire::encode_item_slice(a_stamp(), is), f.user_rows(), f.item_rows()};
}

}  // namespace

TEST_CASE("wire: a batch round-trips", "[wire]") {
  rating_batch rb;
  rb.ratings = {{.user = 1, .item = 2, .value = 3.5f, .timestamp = 99},
                {.user = -3, .item = std::numeric_limits<std::int64_t>::min(), .value = 1.0f}};
  auto blob = wire::encode_batch(a_stamp(), rb);
  CHECK(wire::peek_kind(blob).value() == wire::kind::batch);
  auto back = wire::decode_batch(blob);
  REQUIRE(back);
  CHECK(back->stamp == a_stamp());
  CHECK(back->ratings == rb);
}

TEST_CASE("wire: user and item slices round-trip", "[wire]") {
  auto us = some_user_routes();
  auto u = wire::decode_user_slice(wire::encode_user_slice(a_stamp(), us), 3);
  REQUIRE(u);
  CHECK(u->stamp == a_stamp());
  CHECK(u->routes == us);
  auto is = some_item_routes();
  auto i = wire::decode_item_slice(wire::encode_item_slice(a_stamp(), is), 2);
  REQUIRE(i);
  CHECK(i->routes == is);
  auto empty = wire::decode_user_slice(wire::encode_user_slice(a_stamp(), {}), 1);
  REQUIRE(empty);
  CHECK(empty->routes.empty());
}

TEST_CASE("wire: rows gather the shipped slots and round-trip", "[wire]") {
  rows_fixture f;
  auto u = wire::decode_rows(f.user_rows(), wire::kind::user_rows);
  REQUIRE(u);
  CHECK(u->batch == 3);
  CHECK(u->pass == 1);
  CHECK(u->from == 1);
  CHECK(u->rank == 2);
  CHECK(u->n_rows == 2);
  CHECK(u->local == f.local);
  CHECK(u->bias == std::vector<double>{0.3, 0.1});
  CHECK(u->factors == std::vector<float>{5, 6, 1, 2});
  CHECK(u->errors.empty());
  auto i = wire::decode_rows(f.item_rows(), wire::kind::item_rows);
  REQUIRE(i);
  CHECK(i->errors == f.errors);
  CHECK(i->bias.empty());
  // The kind is part of the frame: user rows are not item rows.
  CHECK_FALSE(wire::decode_rows(f.user_rows(), wire::kind::item_rows));
}

TEST_CASE("wire: rows holding NaN or infinity are refused: factors, biases, errors", "[wire]") {
  auto bad = GENERATE(std::numeric_limits<double>::quiet_NaN(),
                      std::numeric_limits<double>::infinity(),
                      -std::numeric_limits<double>::infinity());
  auto refused = [](const wire::bytes& blob, wire::kind k, const std::string& what) {
    auto d = wire::decode_rows(blob, k);
    REQUIRE_FALSE(d);
    CHECK(d.err().code == errc::corrupt);
    CHECK_THAT(d.err().message, Catch::Contains(what + " holds NaN or infinity"));
  };
  rows_fixture f;
  f.factors[5] = static_cast<float>(bad);  // slot 2 is shipped first
  refused(f.user_rows(), wire::kind::user_rows, "a row");
  refused(f.item_rows(), wire::kind::item_rows, "a row");
  f = rows_fixture{};
  f.bias[2] = bad;
  refused(f.user_rows(), wire::kind::user_rows, "a row");
  f = rows_fixture{};
  f.errors[3] = bad;
  refused(f.item_rows(), wire::kind::item_rows, "an error");
  // A value that is not shipped (slot 1 is not gathered) does not matter.
  f = rows_fixture{};
  f.factors[2] = static_cast<float>(bad);
  f.bias[1] = bad;
  CHECK(wire::decode_rows(f.user_rows(), wire::kind::user_rows));
}

TEST_CASE("wire: user rows of a shard with no ratings in the batch decode", "[wire]") {
  // An owner whose shard got no ratings has an empty working set: no rows, no biases.
  auto blob = wire::encode_rows(wire::kind::user_rows,
                                {.batch = 1, .pass = 0, .from = 0, .rank = 4, .local = {},
                                 .gather = {}, .errors = {}, .bias = nullptr, .factors = nullptr});
  CHECK(blob.size() == wire::rows_frame_bytes(0, 0, 0, 4, true));
  auto u = wire::decode_rows(blob, wire::kind::user_rows);
  REQUIRE(u);
  CHECK(u->n_rows == 0);
  CHECK(u->bias.empty());
}

TEST_CASE("wire: every truncation of every kind is an error", "[wire]") {
  for (const auto& blob : every_kind()) {
    for (std::size_t n = 0; n < blob.size(); ++n) {
      std::span<const char> cut(blob.data(), n);
      INFO("kind " << wire::to_string(wire::peek_kind(blob).value()) << ", " << n << " of "
                   << blob.size() << " bytes");
      CHECK_FALSE(wire::peek_kind(cut));
      CHECK_FALSE(any_decoder_accepts(cut));
    }
  }
}

TEST_CASE("wire: a trailing byte, a bad magic, version or kind is an error", "[wire]") {
  for (auto blob : every_kind()) {
    auto longer = blob;
    longer.push_back('x');
    CHECK_FALSE(any_decoder_accepts(longer));
    auto bad_magic = blob;
    bad_magic[0] ^= 0x20;
    CHECK_FALSE(any_decoder_accepts(bad_magic));
    auto bad_version = blob;
    poke<std::uint16_t>(bad_version, 4, wire::format_version + 1);
    auto e = wire::peek_kind(bad_version);
    REQUIRE_FALSE(e);
    CHECK_THAT(e.err().message, Catch::Contains("format version"));
    auto bad_kind = blob;
    poke<std::uint16_t>(bad_kind, 6, 99);
    CHECK_FALSE(any_decoder_accepts(bad_kind));
  }
}

TEST_CASE("wire: flipped counts and hostile sizes are errors", "[wire]") {
  auto flips = GENERATE(std::uint32_t{0}, 1u, 2u, 1000u, 0x7fffffffu, 0xffffffffu);
  // The payload size in the header.
  for (auto blob : every_kind()) {
    poke<std::uint64_t>(blob, 8, std::uint64_t(flips) * 1'000'003);
    CHECK_FALSE(any_decoder_accepts(blob));
  }
  // The record count of a slice (right after the 33-byte stamp).
  auto us = some_user_routes();
  auto slice = wire::encode_user_slice(a_stamp(), us);
  if (flips != us.size()) {
    poke<std::uint32_t>(slice, wire::header_bytes + 33, flips);
    CHECK_FALSE(wire::decode_user_slice(slice, 4));
  }
  // Each count of a rows frame: n_local, n_rows, n_errors (after batch, pass, from, rank).
  rows_fixture f;
  for (std::size_t field = 0; field < 3; ++field) {
    auto blob = f.item_rows();
    auto at = wire::header_bytes + 8 + 12 + 4 * field;
    std::uint32_t was = 0;
    std::memcpy(&was, blob.data() + at, 4);
    if (flips == was)
      continue;
    poke<std::uint32_t>(blob, at, flips);
    INFO("field " << field << " = " << flips);
    CHECK_FALSE(wire::decode_rows(blob, wire::kind::item_rows));
  }
  // The rank.
  auto blob = f.user_rows();
  if (flips != 2) {
    poke<std::uint32_t>(blob, wire::header_bytes + 8 + 8, flips);
    CHECK_FALSE(wire::decode_rows(blob, wire::kind::user_rows));
  }
}

TEST_CASE("wire: index bounds the receiver knows are checked", "[wire]") {
  auto us = some_user_routes();  // item shards 2, 0, 1
  CHECK(wire::decode_user_slice(wire::encode_user_slice(a_stamp(), us), 3));
  auto e = wire::decode_user_slice(wire::encode_user_slice(a_stamp(), us), 2);
  REQUIRE_FALSE(e);
  CHECK_THAT(e.err().message, Catch::Contains("item shard 2 out of range"));
  auto is = some_item_routes();  // user shards 1, 0
  CHECK_FALSE(wire::decode_item_slice(wire::encode_item_slice(a_stamp(), is), 1));
  // A row index past the shipped rows.
  rows_fixture f;
  f.local = {0, 2};
  auto r = wire::decode_rows(f.user_rows(), wire::kind::user_rows);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("row index 2 out of range"));
  // A rating that is not a number.
  rating_batch rb;
  rb.ratings = {{.user = 1, .item = 2, .value = std::numeric_limits<float>::quiet_NaN()}};
  CHECK_FALSE(wire::decode_batch(wire::encode_batch(a_stamp(), rb)));
  CHECK(wire::decode_batch(wire::encode_batch(a_stamp(), {})));
}

/// Whether byte `at` of a blob of kind `k` is framing: the header (magic, version, kind,
/// payload size) or a field that fixes the payload's size (a record count; for rows the
/// rank, the three counts and the bias flag). The decoders promise to reject any change
/// to those; the other bytes are values, which may decode (the format has no checksum).
bool framing_byte(wire::kind k, std::size_t at) {
  constexpr std::size_t stamp_bytes = 33, rows_meta_at = wire::header_bytes;
  if (at < wire::header_bytes)
    return true;
  if (k == wire::kind::user_rows || k == wire::kind::item_rows)
    return at >= rows_meta_at + 16 && at < rows_meta_at + 33;  // rank .. has_bias
  return at >= wire::header_bytes + stamp_bytes && at < wire::header_bytes + stamp_bytes + 4;
}

TEST_CASE("wire: random byte flips never crash the decoders, and a flipped frame never decodes",
          "[wire]") {
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int accepted = 0, frame_changed = 0, frame_changed_accepted = 0;
  for (const auto& blob : every_kind()) {
    auto k = wire::peek_kind(blob).value();
    for (int trial = 0; trial < 2000; ++trial) {
      auto b = blob;
      auto flips = 1 + next() % 4;
      for (std::uint64_t f = 0; f < flips; ++f)
        b[next() % b.size()] ^= static_cast<char>(1 + next() % 255);
      bool framing = false;  // two flips of one byte may cancel: compare the bytes
      for (std::size_t at = 0; at < b.size(); ++at)
        framing = framing || (b[at] != blob[at] && framing_byte(k, at));
      bool ok = any_decoder_accepts(b);  // must not crash, whatever the bytes
      accepted += ok;
      frame_changed += framing;
      frame_changed_accepted += framing && ok;
    }
  }
  CAPTURE(accepted, frame_changed);
  CHECK(frame_changed > 2000);  // a good share of the 10,000 trials hit the framing
  CHECK(frame_changed_accepted == 0);
  // So at most the trials that changed values only decode.
  CHECK(accepted <= 5 * 2000 - frame_changed);
}
