#include "recflow/graph/als_wire.hpp"

#include <cmath>
#include <string>

#include "recflow/graph/wire_codec.hpp"

namespace recflow::wire {

namespace {

using namespace detail;

constexpr std::size_t layout_meta_bytes = 1 + 3 * 4 + 8 + 2 * 4 + 2 * 8;
constexpr std::size_t rows_meta_bytes = 4 + 1 + 4 * 5;
constexpr std::uint32_t max_blocks = 65536;

std::string str(std::uint64_t v) { return std::to_string(v); }

}  // namespace

bytes encode_als_layout(const als_block_layout& l, const factor_model& initial) {
  const auto n = l.entities.size();
  const auto other = l.out_rows.size();
  const auto rank = std::size_t(initial.rank());
  const auto nnz = l.ratings.cols.size();
  const auto n_out = l.rows_out();
  std::size_t payload = layout_meta_bytes + n * 4 + (other + 1) * 4 + (n + 1) * 8 + nnz * 4
                        + nnz * 4 + other * 4 + n_out * 4 + n * 8 + n * rank * 4;
  writer w(kind::als_layout, payload);
  w.put(static_cast<std::uint8_t>(l.owner));
  w.put(l.block);
  w.put(static_cast<std::uint32_t>(other));
  w.put(static_cast<std::uint32_t>(rank));
  w.put(initial.mu());
  w.put(static_cast<std::uint32_t>(n));
  w.put(l.in_offsets.empty() ? std::uint32_t{0} : l.in_offsets.back());
  w.put(static_cast<std::uint64_t>(nnz));
  w.put(static_cast<std::uint64_t>(n_out));
  w.put_bytes(l.entities.data(), n * 4);
  // A layout of a block without entities may have no in_offsets: send zeros.
  for (std::size_t t = 0; t <= other; ++t)
    w.put(t < l.in_offsets.size() ? l.in_offsets[t] : std::uint32_t{0});
  if (l.ratings.offsets.empty())
    w.put(std::uint64_t{0});
  else
    w.put_bytes(l.ratings.offsets.data(), (n + 1) * 8);
  w.put_bytes(l.ratings.cols.data(), nnz * 4);
  w.put_bytes(l.ratings.values.data(), nnz * 4);
  for (const auto& r : l.out_rows)
    w.put(static_cast<std::uint32_t>(r.size()));
  for (const auto& r : l.out_rows)
    w.put_bytes(r.data(), r.size() * 4);
  const bool users = l.owner == side::user;
  const auto& bias = users ? initial.user_bias() : initial.item_bias();
  const auto& table = users ? initial.U() : initial.P();
  for (auto e : l.entities)
    w.put(bias[e]);
  for (auto e : l.entities)
    w.put_bytes(table.data().data() + std::size_t(e) * rank, rank * 4);
  return std::move(w).done();
}

result<als_block_init> decode_als_layout(std::span<const char> blob) {
  constexpr auto k = kind::als_layout;
  reader r(blob);
  if (auto ok = open(r, blob, k, layout_meta_bytes, "truncated before the counts"); !ok)
    return ok.err();
  als_block_init out;
  auto& l = out.layout;
  auto owner = r.get<std::uint8_t>();
  l.block = r.get<std::uint32_t>();
  out.other_blocks = r.get<std::uint32_t>();
  out.rank = r.get<std::uint32_t>();
  out.mu = r.get<double>();
  auto n = r.get<std::uint32_t>();
  auto n_gathered = r.get<std::uint32_t>();
  auto nnz = r.get<std::uint64_t>();
  auto n_out = r.get<std::uint64_t>();
  if (owner > 1)
    return bad(k, "side " + str(owner) + " is neither users (0) nor items (1)");
  l.owner = static_cast<side>(owner);
  const auto other = out.other_blocks;
  if (other == 0 || other > max_blocks)
    return bad(k, "other side's block count " + str(other) + " outside 1.." + str(max_blocks));
  if (l.block >= other)
    return bad(k, "block " + str(l.block) + " out of range (" + str(other) + " blocks per side)");
  if (out.rank == 0 || out.rank > max_rank)
    return bad(k, "rank " + str(out.rank) + " outside 1.." + str(max_rank));
  if (!std::isfinite(out.mu))
    return bad(k, "the mean is not finite");
  // Every count is bounded by the bytes that follow before anything is multiplied, so
  // the sizes below fit in 64 bits.
  if (nnz > r.left() || n_out > r.left())
    return bad(k, str(nnz) + " ratings and " + str(n_out) + " out rows cannot fit in "
                    + str(r.left()) + " bytes");
  const std::uint64_t rank = out.rank;
  std::uint64_t need = std::uint64_t(n) * 4 + (std::uint64_t(other) + 1) * 4
                       + (std::uint64_t(n) + 1) * 8 + nnz * 8 + std::uint64_t(other) * 4
                       + n_out * 4 + std::uint64_t(n) * 8 + std::uint64_t(n) * rank * 4;
  if (need != r.left())
    return bad(k, str(n) + " entities, " + str(nnz) + " ratings and " + str(n_out)
                    + " out rows of rank " + str(rank) + " need " + str(need) + " bytes, "
                    + str(r.left()) + " follow");
  l.entities.resize(n);
  r.get_bytes(l.entities.data(), std::size_t(n) * 4);
  for (std::size_t e = 1; e < n; ++e)
    if (l.entities[e] <= l.entities[e - 1])
      return bad(k, "entities not strictly increasing at position " + str(e));
  l.in_offsets.resize(std::size_t(other) + 1);
  r.get_bytes(l.in_offsets.data(), l.in_offsets.size() * 4);
  if (l.in_offsets.front() != 0 || l.in_offsets.back() != n_gathered)
    return bad(k, "in-block offsets must run from 0 to " + str(n_gathered));
  for (std::size_t t = 1; t < l.in_offsets.size(); ++t)
    if (l.in_offsets[t] < l.in_offsets[t - 1])
      return bad(k, "in-block offsets decrease at block " + str(t - 1));
  auto& csr = l.ratings;
  csr.offsets.resize(std::size_t(n) + 1);
  r.get_bytes(csr.offsets.data(), csr.offsets.size() * 8);
  if (csr.offsets.front() != 0 || csr.offsets.back() != nnz)
    return bad(k, "rating offsets must run from 0 to " + str(nnz));
  for (std::size_t e = 1; e < csr.offsets.size(); ++e)
    if (csr.offsets[e] < csr.offsets[e - 1])
      return bad(k, "rating offsets decrease at entity " + str(e - 1));
  csr.cols.resize(nnz);
  r.get_bytes(csr.cols.data(), nnz * 4);
  for (auto c : csr.cols)
    if (c >= n_gathered)
      return bad(k, "rating column " + str(c) + " out of range (" + str(n_gathered)
                      + " gathered rows)");
  csr.values.resize(nnz);
  r.get_bytes(csr.values.data(), nnz * 4);
  for (auto v : csr.values)
    if (!std::isfinite(v))
      return bad(k, "a rating value is not finite");
  std::vector<std::uint32_t> counts(other);
  r.get_bytes(counts.data(), counts.size() * 4);
  std::uint64_t total = 0;
  for (auto c : counts)
    total += c;
  if (total != n_out)
    return bad(k, "out-row counts sum to " + str(total) + ", the header says " + str(n_out));
  l.out_rows.resize(other);
  for (std::uint32_t t = 0; t < other; ++t) {
    auto& rows = l.out_rows[t];
    rows.resize(counts[t]);
    r.get_bytes(rows.data(), rows.size() * 4);
    for (std::size_t j = 0; j < rows.size(); ++j)
      if (rows[j] >= n || (j > 0 && rows[j] <= rows[j - 1]))
        return bad(k, "out rows for block " + str(t) + " not increasing below " + str(n));
  }
  out.bias.resize(n);
  r.get_bytes(out.bias.data(), out.bias.size() * 8);
  out.factors.resize(std::size_t(n) * rank);
  r.get_bytes(out.factors.data(), out.factors.size() * 4);
  if (!all_finite(std::span<const double>(out.bias)) || !all_finite(std::span<const float>(out.factors)))
    return bad(k, "an initial row is not finite");
  return out;
}

bytes encode_als_rows(const als_rows& x, std::uint32_t rank) {
  const auto n = x.bias.size();
  writer w(kind::als_rows,
           rows_meta_bytes + n * 8 + x.factors.size() * 4 + x.gram.size() * 8 + 8);
  w.put(x.iteration);
  w.put(static_cast<std::uint8_t>(x.side));
  w.put(x.from);
  w.put(x.to);
  w.put(rank);
  w.put(static_cast<std::uint32_t>(n));
  w.put(static_cast<std::uint32_t>(x.gram.size()));
  w.put_bytes(x.bias.data(), n * 8);
  w.put_bytes(x.factors.data(), x.factors.size() * 4);
  w.put_bytes(x.gram.data(), x.gram.size() * 8);
  w.put(x.regularisation);
  return std::move(w).done();
}

result<als_rows> decode_als_rows(std::span<const char> blob) {
  constexpr auto k = kind::als_rows;
  reader r(blob);
  if (auto ok = open(r, blob, k, rows_meta_bytes, "truncated before the counts"); !ok)
    return ok.err();
  als_rows out;
  out.iteration = r.get<std::uint32_t>();
  auto side_code = r.get<std::uint8_t>();
  out.from = r.get<std::uint32_t>();
  out.to = r.get<std::uint32_t>();
  auto rank = r.get<std::uint32_t>();
  auto n = r.get<std::uint32_t>();
  auto g = r.get<std::uint32_t>();
  if (side_code > 1)
    return bad(k, "side " + str(side_code) + " is neither users (0) nor items (1)");
  out.side = static_cast<side>(side_code);
  if (rank == 0 || rank > max_rank)
    return bad(k, "rank " + str(rank) + " outside 1.." + str(max_rank));
  if (g != 0 && g != rank * (rank + 1))
    return bad(k, "a Gram matrix of rank " + str(rank) + " has " + str(rank * (rank + 1))
                    + " words, got " + str(g));
  std::uint64_t need = std::uint64_t(n) * 8 + std::uint64_t(n) * rank * 4 + std::uint64_t(g) * 8 + 8;
  if (need != r.left())
    return bad(k, str(n) + " rows of rank " + str(rank) + " need " + str(need) + " bytes, "
                    + str(r.left()) + " follow");
  out.bias.resize(n);
  r.get_bytes(out.bias.data(), out.bias.size() * 8);
  out.factors.resize(std::size_t(n) * rank);
  r.get_bytes(out.factors.data(), out.factors.size() * 4);
  out.gram.resize(g);
  r.get_bytes(out.gram.data(), out.gram.size() * 8);
  out.regularisation = r.get<double>();
  if (!all_finite(std::span<const double>(out.bias)) || !all_finite(std::span<const float>(out.factors)))
    return bad(k, "a row holds NaN or infinity");
  if (!std::isfinite(out.regularisation) || out.regularisation < 0.0)
    return bad(k, "regularisation " + std::to_string(out.regularisation) + " is not a finite sum of squares");
  return out;
}

result<void> check_als_rows(const als_block_layout& l, std::uint32_t rank, const als_rows& x,
                            bool implicit) {
  constexpr auto k = kind::als_rows;
  auto other = l.owner == side::user ? side::item : side::user;
  if (!is_side(x.side))
    return bad(k, "side " + str(static_cast<std::uint8_t>(x.side))
                    + " is neither users (0) nor items (1)");
  if (x.side != other)
    return bad(k, std::string("rows of the ") + to_string(x.side)
                    + " side for a block of the same side");
  if (x.to != l.block)
    return bad(k, "addressed to block " + str(x.to) + ", this is block " + str(l.block));
  if (x.iteration == 0)
    return bad(k, "sweep 0 (sweeps count from 1)");
  if (x.from + std::size_t(1) >= l.in_offsets.size())
    return bad(k, "from block " + str(x.from) + ", out of range ("
                    + str(l.in_offsets.empty() ? 0 : l.in_offsets.size() - 1) + " blocks)");
  auto expected = l.in_offsets[x.from + 1] - l.in_offsets[x.from];
  if (expected == 0 && !implicit)
    return bad(k, "from block " + str(x.from) + ", which sends this block nothing");
  if (x.bias.size() != expected || x.factors.size() != std::size_t(expected) * rank)
    return bad(k, str(x.bias.size()) + " rows of rank "
                    + str(x.bias.empty() ? 0 : x.factors.size() / x.bias.size()) + " from block "
                    + str(x.from) + ", expected " + str(expected) + " of rank " + str(rank));
  const auto words = implicit ? std::size_t(rank) * (rank + 1) : 0;
  if (x.gram.size() != words)
    return bad(k, implicit ? "no Gram matrix of rank " + str(rank) + " from block " + str(x.from)
                           : "a Gram matrix from block " + str(x.from) + " in explicit ALS");
  if (!implicit && x.regularisation != 0.0)
    return bad(k, "a regularisation share from block " + str(x.from) + " in explicit ALS");
  return {};
}

}  // namespace recflow::wire
