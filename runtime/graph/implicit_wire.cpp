#include "recflow/graph/implicit_wire.hpp"

#include <string>

#include "recflow/graph/wire_codec.hpp"

namespace recflow::wire {

namespace {

using namespace detail;

constexpr std::size_t event_bytes = 8 + 8 + 4 + 8;  // user, item, weight, stamp
constexpr std::size_t step_bytes = 8 + 4 + 1;        // batch, pass, side

void put_step(writer& w, const implicit_step& s) {
  w.put(s.batch);
  w.put(s.pass);
  w.put(static_cast<std::uint8_t>(s.of));
}

result<implicit_step> get_step(reader& r, kind k) {
  implicit_step s;
  s.batch = r.get<std::uint64_t>();
  s.pass = r.get<std::uint32_t>();
  s.of = static_cast<side>(r.get<std::uint8_t>());
  if (!is_side(s.of))
    return bad(k, "side " + std::to_string(unsigned(s.of)) + " is neither users nor items");
  return s;
}

result<void> check_rank(std::uint32_t rank, kind k) {
  if (rank == 0 || rank > max_rank)
    return bad(k, "rank " + std::to_string(rank) + " outside 1.." + std::to_string(max_rank));
  return {};
}

/// n ids, strictly increasing.
result<std::vector<std::int64_t>> get_ids(reader& r, std::uint32_t n, kind k) {
  std::vector<std::int64_t> ids(n);
  r.get_bytes(ids.data(), std::size_t(n) * 8);
  for (std::size_t j = 1; j < ids.size(); ++j)
    if (!(ids[j - 1] < ids[j]))
      return bad(k, "ids not strictly increasing at " + std::to_string(j));
  return ids;
}

result<factor_table> get_rows(reader& r, std::uint32_t n, std::uint32_t rank, kind k) {
  factor_table t{static_cast<int>(rank)};
  t.resize(n);
  r.get_bytes(t.data().data(), t.data().size() * 4);
  if (!all_finite<float>(t.data()))
    return bad(k, "a row is not finite");
  return t;
}

void put_event(writer& w, std::int64_t a, std::int64_t b, float weight, std::uint64_t stamp) {
  w.put(a);
  w.put(b);
  w.put(weight);
  w.put(stamp);
}

result<void> check_weight(float weight, std::size_t j, kind k) {
  if (!(weight > 0.0f && std::isfinite(weight)))
    return bad(k, "event " + std::to_string(j + 1) + " has weight " + std::to_string(weight)
                    + " (weights are positive and finite)");
  return {};
}

}  // namespace

bytes encode_implicit_events(std::uint64_t batch, std::span<const stamped_event> events) {
  writer w(kind::implicit_events, 12 + events.size() * event_bytes);
  w.put(batch);
  w.put(static_cast<std::uint32_t>(events.size()));
  for (const auto& e : events)
    put_event(w, e.user, e.item, e.weight, e.stamp);
  return std::move(w).done();
}

result<implicit_event_batch> decode_implicit_events(std::span<const char> blob) {
  constexpr auto k = kind::implicit_events;
  reader r(blob);
  if (auto ok = open(r, blob, k, 12); !ok)
    return ok.err();
  implicit_event_batch out;
  out.batch = r.get<std::uint64_t>();
  const auto n = r.get<std::uint32_t>();
  if (auto ok = expect_records(r, k, n, event_bytes, "events"); !ok)
    return ok.err();
  out.events.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    auto& e = out.events[j];
    e.user = r.get<std::int64_t>();
    e.item = r.get<std::int64_t>();
    e.weight = r.get<float>();
    e.stamp = r.get<std::uint64_t>();
    if (auto ok = check_weight(e.weight, j, k); !ok)
      return ok.err();
  }
  return out;
}

bytes encode_implicit_ids(const implicit_step& step, std::span<const std::int64_t> ids) {
  writer w(kind::implicit_ids, step_bytes + 4 + ids.size() * 8);
  put_step(w, step);
  w.put(static_cast<std::uint32_t>(ids.size()));
  w.put_bytes(ids.data(), ids.size() * 8);
  return std::move(w).done();
}

result<implicit_id_request> decode_implicit_ids(std::span<const char> blob) {
  constexpr auto k = kind::implicit_ids;
  reader r(blob);
  if (auto ok = open(r, blob, k, step_bytes + 4); !ok)
    return ok.err();
  implicit_id_request out;
  auto step = get_step(r, k);
  if (!step)
    return step.err();
  out.step = *step;
  const auto n = r.get<std::uint32_t>();
  if (auto ok = expect_records(r, k, n, 8, "ids"); !ok)
    return ok.err();
  auto ids = get_ids(r, n, k);
  if (!ids)
    return ids.err();
  out.ids = std::move(*ids);
  return out;
}

bytes encode_implicit_rows(const implicit_step& step, const implicit_rows& rows) {
  const auto n = rows.ids.size();
  const auto rank = std::size_t(rows.rows.rank());
  writer w(kind::implicit_rows, step_bytes + 8 + n * 8 + n * rank * 4);
  put_step(w, step);
  w.put(static_cast<std::uint32_t>(rank));
  w.put(static_cast<std::uint32_t>(n));
  w.put_bytes(rows.ids.data(), n * 8);
  w.put_bytes(rows.rows.data().data(), n * rank * 4);
  return std::move(w).done();
}

result<implicit_row_answer> decode_implicit_rows(std::span<const char> blob) {
  constexpr auto k = kind::implicit_rows;
  reader r(blob);
  if (auto ok = open(r, blob, k, step_bytes + 8); !ok)
    return ok.err();
  implicit_row_answer out;
  auto step = get_step(r, k);
  if (!step)
    return step.err();
  out.step = *step;
  const auto rank = r.get<std::uint32_t>();
  const auto n = r.get<std::uint32_t>();
  if (auto ok = check_rank(rank, k); !ok)
    return ok.err();
  if (auto ok = expect_records(r, k, n, 8 + std::uint64_t(rank) * 4, "rows"); !ok)
    return ok.err();
  auto ids = get_ids(r, n, k);
  if (!ids)
    return ids.err();
  auto rows = get_rows(r, n, rank, k);
  if (!rows)
    return rows.err();
  out.rows = implicit_rows{std::move(*ids), std::move(*rows)};
  return out;
}

bytes encode_implicit_shard(const implicit_shard_parts& p) {
  const auto n = p.ids.size();
  const auto rank = std::size_t(p.rows.rank());
  const auto m = p.events.size();
  writer w(kind::implicit_shard,
           17 + n * 8 + n * rank * 4 + (n + 1) * 8 + m * (8 + 4 + 8));
  w.put(static_cast<std::uint8_t>(p.owner));
  w.put(static_cast<std::uint32_t>(rank));
  w.put(static_cast<std::uint32_t>(n));
  w.put(static_cast<std::uint64_t>(m));
  w.put_bytes(p.ids.data(), n * 8);
  w.put_bytes(p.rows.data().data(), n * rank * 4);
  for (std::size_t k = 0; k <= n; ++k)
    w.put(static_cast<std::uint64_t>(k < p.offsets.size() ? p.offsets[k] : m));
  for (const auto& e : p.events) {
    w.put(e.other);
    w.put(e.weight);
    w.put(e.stamp);
  }
  return std::move(w).done();
}

result<implicit_shard_parts> decode_implicit_shard(std::span<const char> blob) {
  constexpr auto k = kind::implicit_shard;
  reader r(blob);
  if (auto ok = open(r, blob, k, 17); !ok)
    return ok.err();
  implicit_shard_parts p;
  p.owner = static_cast<side>(r.get<std::uint8_t>());
  if (!is_side(p.owner))
    return bad(k, "side " + std::to_string(unsigned(p.owner)) + " is neither users nor items");
  const auto rank = r.get<std::uint32_t>();
  const auto n = r.get<std::uint32_t>();
  const auto m = r.get<std::uint64_t>();
  if (auto ok = check_rank(rank, k); !ok)
    return ok.err();
  // n keys (id, row, offset), one more offset, m events.
  std::uint64_t keys = 0, events = 0;
  if (!checked_mul(n, 8 + 4 * std::uint64_t(rank) + 8, keys) || !checked_mul(m, 20, events)
      || keys + 8 < keys || keys + 8 + events < keys + 8 || keys + 8 + events != r.left())
    return bad(k, std::to_string(n) + " keys of rank " + std::to_string(rank) + " and "
                    + std::to_string(m) + " events do not fill " + std::to_string(r.left())
                    + " bytes");
  p.ids.resize(n);
  r.get_bytes(p.ids.data(), std::size_t(n) * 8);
  auto rows = get_rows(r, n, rank, k);
  if (!rows)
    return rows.err();
  p.rows = std::move(*rows);
  p.offsets.resize(std::size_t(n) + 1);
  r.get_bytes(p.offsets.data(), p.offsets.size() * 8);
  p.events.resize(m);
  for (std::size_t j = 0; j < m; ++j) {
    auto& e = p.events[j];
    e.other = r.get<std::int64_t>();
    e.weight = r.get<float>();
    e.stamp = r.get<std::uint64_t>();
    if (auto ok = check_weight(e.weight, j, k); !ok)
      return ok.err();
  }
  return p;
}

}  // namespace recflow::wire
