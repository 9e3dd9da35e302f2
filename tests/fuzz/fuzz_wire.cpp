// Fuzzes the network decoders (runtime/graph/wire, als_wire, implicit_wire): any bytes as a frame from a peer. A
// frame must decode or be refused with an error, never read or write out of bounds; what
// decodes must satisfy the bounds the owners rely on, and re-encoding it must be stable
// (encode(decode(encode(decode(x)))) == encode(decode(x)), compared as bytes).
#include <cstdint>
#include <span>

#include "fuzz_util.hpp"
#include "recflow/graph/als_wire.hpp"
#include "recflow/graph/implicit_wire.hpp"
#include "recflow/graph/wire.hpp"

using namespace recflow;

namespace {

wire::bytes reencode_rows(wire::kind k, const wire::rows& r) {
  std::vector<std::uint32_t> gather(r.n_rows);
  for (std::uint32_t j = 0; j < r.n_rows; ++j)
    gather[j] = j;
  wire::rows_source src;
  src.batch = r.batch;
  src.pass = r.pass;
  src.from = r.from;
  src.rank = r.rank;
  src.local = r.local;
  src.gather = gather;
  src.errors = r.errors;
  src.bias = r.bias.empty() ? nullptr : r.bias.data();
  src.factors = r.factors.data();
  return wire::encode_rows(k, src);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1)
    return 0;
  std::uint32_t shards = 1 + data[0] % 8;  // the receiver's view of the other side
  std::span<const char> blob(reinterpret_cast<const char*>(data + 1), size - 1);
  auto k = wire::peek_kind(blob);
  if (!k)
    return 0;
  switch (*k) {
    case wire::kind::batch: {
      auto b = wire::decode_batch(blob);
      if (!b)
        return 0;
      auto once = wire::encode_batch(b->stamp, b->ratings);
      auto again = wire::decode_batch(once);
      if (!again || wire::encode_batch(again->stamp, again->ratings) != once)
        fuzz::fail("a decoded batch does not re-encode stably");
      break;
    }
    case wire::kind::user_slice: {
      auto s = wire::decode_user_slice(blob, shards);
      if (!s)
        return 0;
      for (const auto& r : s->routes)
        if (r.item_shard >= shards)
          fuzz::fail("a decoded user route names an item shard out of range");
      auto once = wire::encode_user_slice(s->stamp, s->routes);
      auto again = wire::decode_user_slice(once, shards);
      if (!again || wire::encode_user_slice(again->stamp, again->routes) != once)
        fuzz::fail("a decoded user slice does not re-encode stably");
      break;
    }
    case wire::kind::item_slice: {
      auto s = wire::decode_item_slice(blob, shards);
      if (!s)
        return 0;
      for (const auto& r : s->routes)
        if (r.user_shard >= shards)
          fuzz::fail("a decoded item route names a user shard out of range");
      auto once = wire::encode_item_slice(s->stamp, s->routes);
      auto again = wire::decode_item_slice(once, shards);
      if (!again || wire::encode_item_slice(again->stamp, again->routes) != once)
        fuzz::fail("a decoded item slice does not re-encode stably");
      break;
    }
    case wire::kind::user_rows:
    case wire::kind::item_rows: {
      auto r = wire::decode_rows(blob, *k);
      if (!r)
        return 0;
      if (r->factors.size() != std::size_t(r->n_rows) * r->rank)
        fuzz::fail("decoded rows: factors disagree with rows x rank");
      if (*k == wire::kind::user_rows && r->bias.size() != r->n_rows)
        fuzz::fail("decoded user rows: biases disagree with the row count");
      for (auto j : r->local)
        if (j >= r->n_rows)
          fuzz::fail("decoded rows: a rating names a row out of range");
      auto once = reencode_rows(*k, *r);
      auto again = wire::decode_rows(once, *k);
      if (!again || reencode_rows(*k, *again) != once)
        fuzz::fail("decoded rows do not re-encode stably");
      break;
    }
    case wire::kind::als_layout: {
      // What a node's ALS block indexes with must be in bounds once decoded.
      auto init = wire::decode_als_layout(blob);
      if (!init)
        return 0;
      const auto& l = init->layout;
      const auto n = l.entities.size();
      const auto gathered = l.in_offsets.back();
      if (l.in_offsets.size() != std::size_t(init->other_blocks) + 1
          || l.out_rows.size() != init->other_blocks || l.ratings.offsets.size() != n + 1
          || l.ratings.offsets.back() != l.ratings.cols.size()
          || l.ratings.values.size() != l.ratings.cols.size() || init->bias.size() != n
          || init->factors.size() != n * init->rank)
        fuzz::fail("a decoded ALS layout has inconsistent sizes");
      for (auto c : l.ratings.cols)
        if (c >= gathered)
          fuzz::fail("a decoded ALS layout has a rating column out of range");
      for (const auto& rows : l.out_rows)
        for (auto j : rows)
          if (j >= n)
            fuzz::fail("a decoded ALS layout ships a row out of range");
      break;
    }
    case wire::kind::als_rows: {
      auto r = wire::decode_als_rows(blob);
      if (!r)
        return 0;
      auto rank = r->bias.empty() ? 1u : std::uint32_t(r->factors.size() / r->bias.size());
      if (!r->bias.empty() && r->factors.size() != r->bias.size() * rank)
        fuzz::fail("decoded ALS rows: factors disagree with rows x rank");
      if (r->bias.empty())
        return 0;  // the rank of an empty frame is not recoverable from the rows
      auto once = wire::encode_als_rows(*r, rank);
      auto again = wire::decode_als_rows(once);
      if (!again || wire::encode_als_rows(*again, rank) != once)
        fuzz::fail("decoded ALS rows do not re-encode stably");
      break;
    }
    case wire::kind::implicit_events: {
      auto e = wire::decode_implicit_events(blob);
      if (!e)
        return 0;
      if (!validate_events(e->events))
        fuzz::fail("decoded implicit events carry a weight an owner refuses");
      auto once = wire::encode_implicit_events(e->batch, e->events);
      auto again = wire::decode_implicit_events(once);
      if (!again || wire::encode_implicit_events(again->batch, again->events) != once)
        fuzz::fail("decoded implicit events do not re-encode stably");
      break;
    }
    case wire::kind::implicit_ids: {
      auto r = wire::decode_implicit_ids(blob);
      if (!r)
        return 0;
      for (std::size_t j = 1; j < r->ids.size(); ++j)
        if (!(r->ids[j - 1] < r->ids[j]))
          fuzz::fail("decoded implicit ids are not strictly increasing");
      auto once = wire::encode_implicit_ids(r->step, r->ids);
      auto again = wire::decode_implicit_ids(once);
      if (!again || wire::encode_implicit_ids(again->step, again->ids) != once)
        fuzz::fail("decoded implicit ids do not re-encode stably");
      break;
    }
    case wire::kind::implicit_rows: {
      auto r = wire::decode_implicit_rows(blob);
      if (!r)
        return 0;
      if (std::size_t(r->rows.rows.rows()) != r->rows.ids.size())
        fuzz::fail("decoded implicit rows: rows disagree with ids");
      auto once = wire::encode_implicit_rows(r->step, r->rows);
      auto again = wire::decode_implicit_rows(once);
      if (!again || wire::encode_implicit_rows(again->step, again->rows) != once)
        fuzz::fail("decoded implicit rows do not re-encode stably");
      break;
    }
    case wire::kind::implicit_shard: {
      // What decodes either builds a shard or is refused by from_parts; a built shard
      // re-encodes stably.
      auto parts = wire::decode_implicit_shard(blob);
      if (!parts)
        return 0;
      if (parts->rows.rank() > 64)
        return 0;  // a shard's solver holds rank x rank matrices: keep each input fast
      implicit_stream_params p;
      p.als.rank = parts->rows.rank();
      auto shard = implicit_shard::from_parts(std::move(*parts), p);
      if (!shard)
        return 0;
      auto once = wire::encode_implicit_shard(shard->parts());
      auto again = wire::decode_implicit_shard(once);
      if (!again || wire::encode_implicit_shard(*again) != once)
        fuzz::fail("a decoded implicit shard does not re-encode stably");
      break;
    }
  }
  return 0;
}
