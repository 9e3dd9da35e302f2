#include "recflow/actors/als_block.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <string>

#include "recflow/graph/als_wire.hpp"

namespace recflow {

namespace {

constexpr std::uint32_t none = ~std::uint32_t(0);

// Local index of each compact entity within its block (entities of a block are taken in
// increasing compact index).
std::vector<std::uint32_t> local_indices(std::span<const std::uint32_t> block_of,
                                         std::uint32_t partitions) {
  std::vector<std::uint32_t> next(partitions, 0), local(block_of.size());
  for (std::size_t e = 0; e < block_of.size(); ++e)
    local[e] = next[block_of[e]]++;
  return local;
}

// Lays out one side's blocks (entities, ratings against the gathered table, in-block
// offsets). Returns needs[s][t]: the local indices (in the other side's block t) of the
// rows block s needs, increasing.
std::vector<std::vector<std::vector<std::uint32_t>>> build_side(
  const rating_csr& rows, side owner, std::span<const std::uint32_t> self_block,
  std::span<const std::uint32_t> other_block, std::span<const std::uint32_t> other_local,
  std::uint32_t partitions, std::vector<als_block_layout>& out) {
  out.assign(partitions, {});
  for (std::uint32_t s = 0; s < partitions; ++s) {
    out[s].owner = owner;
    out[s].block = s;
    out[s].out_rows.assign(partitions, {});
  }
  for (index_t e = 0; e < rows.rows(); ++e)
    out[self_block[e]].entities.push_back(e);

  std::vector<std::vector<std::vector<std::uint32_t>>> needs(partitions);
  std::vector<std::uint32_t> mark(other_block.size(), none), gathered_at(other_block.size(), 0);
  std::vector<std::vector<index_t>> wanted(partitions);
  for (std::uint32_t s = 0; s < partitions; ++s) {
    auto& b = out[s];
    for (auto& w : wanted)
      w.clear();
    for (auto e : b.entities)
      for (auto c : rows.cols_of(e))
        if (mark[c] != s) {
          mark[c] = s;
          wanted[other_block[c]].push_back(c);
        }
    b.in_offsets.assign(std::size_t(partitions) + 1, 0);
    needs[s].resize(partitions);
    for (std::uint32_t t = 0; t < partitions; ++t) {
      auto& w = wanted[t];
      std::sort(w.begin(), w.end());  // increasing compact = increasing local index in t
      b.in_offsets[t + 1] = b.in_offsets[t] + static_cast<std::uint32_t>(w.size());
      for (std::size_t j = 0; j < w.size(); ++j) {
        gathered_at[w[j]] = b.in_offsets[t] + static_cast<std::uint32_t>(j);
        needs[s][t].push_back(other_local[w[j]]);
      }
    }
    // The block's ratings, each entity's in the order of `rows` (train_als's order).
    auto& csr = b.ratings;
    csr.offsets.assign(b.entities.size() + 1, 0);
    for (std::size_t l = 0; l < b.entities.size(); ++l)
      csr.offsets[l + 1] = csr.offsets[l] + rows.count(b.entities[l]);
    csr.cols.reserve(csr.offsets.back());
    csr.values.reserve(csr.offsets.back());
    for (auto e : b.entities) {
      for (auto c : rows.cols_of(e))
        csr.cols.push_back(gathered_at[c]);
      auto v = rows.values_of(e);
      csr.values.insert(csr.values.end(), v.begin(), v.end());
    }
  }
  return needs;
}

std::variant<als_solver, implicit_als_solver> make_solver(const als_block_params& p) {
  if (const auto* i = std::get_if<implicit_params>(&p))
    return implicit_als_solver(*i);
  return als_solver(std::get<als_params>(p));
}

}  // namespace

int rank_of(const als_block_params& p) noexcept {
  return std::visit([](const auto& x) { return x.rank; }, p);
}

int iterations_of(const als_block_params& p) noexcept {
  return std::visit([](const auto& x) { return x.iterations; }, p);
}

result<void> validate(const als_block_params& p) {
  if (const auto* i = std::get_if<implicit_params>(&p)) {
    if (auto ok = validate(*i); !ok)
      return ok;
    if (i->missing_exponent != 0.0)
      return error{errc::invalid_argument,
                   "implicit ALS on blocks weighs every missing pair 1: missing exponent must "
                   "be 0 (the reference trains with others)"};
    return {};
  }
  return validate(std::get<als_params>(p));
}

als_block_plan als_block_plan::build(const rating_blocks& blocks,
                                     std::span<const std::uint32_t> user_block,
                                     std::span<const std::uint32_t> item_block,
                                     std::uint32_t partitions) {
  als_block_plan plan;
  auto user_local = local_indices(user_block, partitions);
  auto item_local = local_indices(item_block, partitions);
  auto users_need = build_side(blocks.by_user, side::user, user_block, item_block, item_local,
                               partitions, plan.users);
  auto items_need = build_side(blocks.by_item, side::item, item_block, user_block, user_local,
                               partitions, plan.items);
  // What user block s needs from item block t is item block t's out-block for s.
  for (std::uint32_t s = 0; s < partitions; ++s)
    for (std::uint32_t t = 0; t < partitions; ++t) {
      plan.items[t].out_rows[s] = std::move(users_need[s][t]);
      plan.users[s].out_rows[t] = std::move(items_need[t][s]);
    }
  return plan;
}

als_block_state::als_block_state(std::shared_ptr<const als_block_plan> plan, side owner,
                                 std::uint32_t block, const als_block_params& p,
                                 const factor_model& initial)
  : keep_(plan), layout_(&(owner == side::user ? plan->users : plan->items).at(block)),
    params_(p), rank_(rank_of(p)),
    mu_(initial.mu()), factors_(rank_),
    gathered_(rank_), solver_(make_solver(p)), gram_(rank_) {
  const bool users = layout_->owner == side::user;
  const auto& from = users ? initial.U() : initial.P();
  const auto& from_bias = users ? initial.user_bias() : initial.item_bias();
  factors_.resize(static_cast<index_t>(layout_->entities.size()));
  bias_.resize(layout_->entities.size());
  for (std::size_t l = 0; l < layout_->entities.size(); ++l) {
    auto e = layout_->entities[l];
    factors_.row(index_t(l)) = from.row(e);
    bias_[l] = from_bias[e];
  }
  gathered_.resize(layout_->in_offsets.empty() ? 0 : layout_->in_offsets.back());
  gathered_bias_.assign(gathered_.rows(), 0.0);
}

als_block_state::als_block_state(std::shared_ptr<const als_block_layout> layout,
                                 const als_block_params& p, double mu,
                                 std::span<const double> bias, std::span<const float> factors)
  : keep_(layout), layout_(layout.get()), params_(p), rank_(rank_of(p)), mu_(mu),
    factors_(rank_), gathered_(rank_), solver_(make_solver(p)), gram_(rank_) {
  const auto n = layout_->entities.size();
  assert(bias.size() == n && factors.size() == n * std::size_t(rank_));
  factors_.data().assign(factors.begin(), factors.end());
  bias_.assign(bias.begin(), bias.end());
  (void)n;
  gathered_.resize(layout_->in_offsets.empty() ? 0 : layout_->in_offsets.back());
  gathered_bias_.assign(gathered_.rows(), 0.0);
}

std::uint32_t als_block_state::expected_messages() const noexcept {
  return implicit() ? std::uint32_t(layout_->in_offsets.size() - 1)
                    : layout_->expected_messages();
}

result<bool> als_block_state::accept(const als_rows& rows) {
  if (auto ok = wire::check_als_rows(*layout_, std::uint32_t(rank_), rows, implicit()); !ok)
    return ok.err();
  const bool complete = arrived_ == 0 || arrived_ == expected_messages();
  const auto parts = layout_->in_offsets.size() - 1;
  if (rows.iteration != iteration_) {
    if (!complete || rows.iteration != iteration_ + 1)
      return error{errc::corrupt, "ALS rows for sweep " + std::to_string(rows.iteration)
                                    + " while sweep " + std::to_string(iteration_)
                                    + (complete ? " is done" : " is in progress")};
    arrived_from_.assign(parts, 0);
  } else if (complete && arrived_ != 0) {
    return error{errc::corrupt, "ALS rows for sweep " + std::to_string(rows.iteration)
                                  + ", which this block has already solved"};
  }
  if (arrived_from_.size() != parts)
    arrived_from_.assign(parts, 0);
  if (arrived_from_[rows.from])
    return error{errc::corrupt, "ALS rows from block " + std::to_string(rows.from)
                                  + " twice in sweep " + std::to_string(rows.iteration)};
  arrived_from_[rows.from] = 1;
  return take(rows);
}

std::vector<als_rows> als_block_state::ship(std::uint32_t iteration) const {
  std::vector<als_rows> out;
  const auto k = std::size_t(rank_);
  std::vector<std::uint64_t> gram;
  double regularisation = 0.0;
  if (const auto* ip = std::get_if<implicit_params>(&params_)) {
    exact_gram g(rank_);
    g.add(factors_);
    gram = g.words();
    if (layout_->owner == side::user)  // the users' share of the objective (squared_error)
      for (index_t l = 0; l < factors_.rows(); ++l)
        regularisation += recflow::regularisation(*ip, layout_->ratings.count(l))
                          * factors_.row(l).cast<double>().squaredNorm();
  }
  for (std::uint32_t t = 0; t < layout_->out_rows.size(); ++t) {
    const auto& rows = layout_->out_rows[t];
    if (rows.empty() && gram.empty())
      continue;
    als_rows m;
    m.iteration = iteration;
    m.side = layout_->owner;
    m.from = layout_->block;
    m.to = t;
    m.bias.reserve(rows.size());
    m.factors.resize(rows.size() * k);
    float* dst = m.factors.data();
    for (auto l : rows) {
      m.bias.push_back(bias_[l]);
      const float* src = factors_.data().data() + std::size_t(l) * k;
      dst = std::copy(src, src + k, dst);
    }
    m.gram = gram;
    m.regularisation = regularisation;
    out.push_back(std::move(m));
  }
  return out;
}

bool als_block_state::take(const als_rows& rows) {
  if (rows.iteration != iteration_) {
    assert(arrived_ == 0 || arrived_ == expected_messages());
    iteration_ = rows.iteration;
    arrived_ = 0;
  }
  if (arrived_ == 0) {  // a half-iteration starts
    gram_.clear();
    other_regularisation_ = 0.0;
  }
  if (!rows.gram.empty()) {
    exact_gram part;
    part.assign(rank_, rows.gram);
    gram_.add(part);
    other_regularisation_ += rows.regularisation;
  }
  const auto at = layout_->in_offsets[rows.from];
  const auto n = layout_->in_offsets[rows.from + 1] - at;
  const auto k = std::size_t(rank_);
  assert(rows.bias.size() == n && rows.factors.size() == std::size_t(n) * k);
  std::copy(rows.bias.begin(), rows.bias.end(), gathered_bias_.begin() + at);
  std::copy(rows.factors.begin(), rows.factors.end(),
            gathered_.data().begin() + std::ptrdiff_t(std::size_t(at) * k));
  rows_received_ += n;
  ++messages_received_;
  return ++arrived_ == expected_messages();
}

void als_block_state::solve() {
  const auto& r = layout_->ratings;
  if (auto* is = std::get_if<implicit_als_solver>(&solver_)) {
    is->use_gram(gram_.to_matrix());
    for (index_t l = 0; l < r.rows(); ++l)
      is->solve(r.cols_of(l), r.values_of(l), gathered_, factors_.row_span(l));
    return;
  }
  auto& solver = std::get<als_solver>(solver_);
  for (index_t l = 0; l < r.rows(); ++l)
    solver.solve(r.cols_of(l), r.values_of(l), gathered_, gathered_bias_, mu_, bias_[l],
                 factors_.row_span(l));
}

double als_block_state::squared_error() const {
  const auto& r = layout_->ratings;
  const bool users = layout_->owner == side::user;
  if (const auto* ip = std::get_if<implicit_params>(&params_)) {
    // implicit_objective counted by item: sum over users x^T (Y^T Y) x equals sum over
    // items y^T (X^T X) y, every event corrects its pair to c (1 - s)^2.
    const Eigen::MatrixXd G = gram_.to_matrix();
    double total = layout_->block == 0 ? other_regularisation_ : 0.0;
    for (index_t l = 0; l < r.rows(); ++l) {
      const Eigen::VectorXd y = factors_.row(l).cast<double>();
      total += y.dot(G * y) + recflow::regularisation(*ip, r.count(l)) * y.squaredNorm();
      auto cols = r.cols_of(l);
      auto weights = r.values_of(l);
      for (std::size_t j = 0; j < cols.size(); ++j) {
        const double s = gathered_.row(cols[j]).cast<double>().dot(y);
        total += confidence(*ip, double(weights[j])) * (1.0 - s) * (1.0 - s) - s * s;
      }
    }
    return total;
  }
  double se = 0.0;
  for (index_t l = 0; l < r.rows(); ++l) {
    auto cols = r.cols_of(l);
    auto values = r.values_of(l);
    for (std::size_t j = 0; j < cols.size(); ++j) {
      auto c = cols[j];
      // The terms in factor_model::raw_predict's order (user first).
      double p = users ? mu_ + bias_[l] + gathered_bias_[c]
                           + factors_.row(l).cast<double>().dot(gathered_.row(c).cast<double>())
                       : mu_ + gathered_bias_[c] + bias_[l]
                           + gathered_.row(c).cast<double>().dot(factors_.row(l).cast<double>());
      double e = p - double(values[j]);
      se += e * e;
    }
  }
  return se;
}

void write_back(const als_block_layout& layout, std::span<const double> bias,
                std::span<const float> factors, factor_model& m) {
  const bool users = layout.owner == side::user;
  auto& to = users ? m.U() : m.P();
  auto& to_bias = users ? m.user_bias() : m.item_bias();
  const auto k = std::size_t(m.rank());
  for (std::size_t l = 0; l < layout.entities.size(); ++l) {
    auto e = layout.entities[l];
    to_bias[e] = bias[l];
    auto row = factors.subspan(l * k, k);
    std::copy(row.begin(), row.end(), to.row_span(e).begin());
  }
}

}  // namespace recflow
