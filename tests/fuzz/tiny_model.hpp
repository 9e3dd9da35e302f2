/// The small model the HTTP fuzz targets serve: users 1..4 and items 10..14 at rank 2.
#pragma once

#include <cstdint>
#include <memory>

#include "recflow/model/model.hpp"

namespace recflow::fuzz {

/// Users 1..4 and items 10..14 at rank 2; user 1 rated items 10 and 11.
inline std::shared_ptr<const factor_model> tiny_model() {
  factor_model::parts p;
  p.rank = 2;
  p.mu = 3.5;
  p.mu_count = 20;
  for (std::int64_t u = 1; u <= 4; ++u) {
    p.users.insert(u);
    p.user_bias.push_back(0.1 * double(u));
    p.user_count.push_back(5);
    p.U.insert(p.U.end(), {0.3f * float(u), -0.2f});
  }
  for (std::int64_t i = 10; i <= 14; ++i) {
    p.items.insert(i);
    p.item_bias.push_back(-0.05 * double(i - 10));
    p.item_count.push_back(4);
    p.P.insert(p.P.end(), {0.1f, 0.2f * float(i - 10)});
  }
  p.rated.offsets = {0, 2, 2, 2, 2};
  p.rated.items = {0, 1};
  return std::make_shared<const factor_model>(factor_model::from_parts(std::move(p)).value());
}

}  // namespace recflow::fuzz
