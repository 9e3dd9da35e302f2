// A flood of new users through POST /ratings (issue 16): what it costs a serving process in
// memory and time, with the bounds on and off, in the same run. Each phase is a fresh
// query_service over the same model (ALS on MovieLens 100K, rank 10), posted to through its
// HTTP-free entry point handle(), one user of 5 known items per post:
//
//   defaults       the shipped bounds (10,000 new ids per minute, 100,000 posted users)
//   ids unbounded  no new-id limit, 100,000 posted users: the users' bound alone
//   no bounds      neither: the baseline whose memory grows with every user
//
// Printed per phase: posts accepted and refused, the process's RSS growth (VmRSS, after
// malloc_trim between phases), and posts per second over the first and the last tenth of
// the flood (a post that copied every posted user made the last tenth far slower).
//
//   ./bench_flood                      # 300,000 users per phase
//   ./bench_flood --users 100000
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <fmt/core.h>

#include "recflow/data/ingest.hpp"
#include "recflow/model/als.hpp"
#include "recflow/serve/service.hpp"
#include "split_data.hpp"

using namespace recflow;
using clock_type = std::chrono::steady_clock;

namespace {

/// This process's resident memory now, in MiB.
double rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

struct phase_result {
  std::size_t accepted = 0, refused = 0, kept = 0;
  double rss_growth_mb = 0.0;
  double first_rate = 0.0, last_rate = 0.0;  ///< posts/s over the first and last tenth
};

phase_result flood(std::shared_ptr<const factor_model> model, serve::service_options o,
                   std::size_t users) {
  malloc_trim(0);
  const double before = rss_mb();
  phase_result r;
  {
    serve::query_service svc(o);
    svc.publish(model, 1);
    const auto& items = model->items();
    const std::size_t tenth = std::max<std::size_t>(1, users / 10);
    auto t0 = clock_type::now();
    for (std::size_t k = 0; k < users; ++k) {
      if (k == tenth)
        r.first_rate = double(tenth) / std::chrono::duration<double>(clock_type::now() - t0).count();
      if (k == users - tenth)
        t0 = clock_type::now();
      std::string body = fmt::format(R"({{"user": {}, "ratings": [)", 10'000'000 + k);
      for (std::size_t j = 0; j < 5; ++j)
        body += fmt::format(R"({}{{"item": {}, "rating": {}}})", j ? ", " : "",
                            items.external(static_cast<std::uint32_t>((k * 7 + j * 131) % items.size())), 1 + (k + j) % 5);
      body += "]}";
      auto a = svc.handle("POST", "/ratings", body);
      (a.status == 200 ? r.accepted : r.refused) += 1;
    }
    r.last_rate = double(tenth) / std::chrono::duration<double>(clock_type::now() - t0).count();
    r.kept = svc.snapshot()->posted->size();
    r.rss_growth_mb = rss_mb() - before;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t users = 300'000;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--users")
      users = std::stoul(v);
    else {
      fmt::print(stderr, "usage: bench_flood [--users N]\n");
      return 2;
    }
  }
  auto path = bench::data_file("ml-100k/u.data");
  auto train = read_ratings(path);
  if (!train) {
    fmt::print(stderr, "{}\n", train.err().message);
    return 1;
  }
  auto m = train_als(*train, {.rank = 10, .iterations = 3});
  if (!m) {
    fmt::print(stderr, "{}\n", m.err().message);
    return 1;
  }
  auto model = std::make_shared<const factor_model>(std::move(*m));
  fmt::print("a flood of {} new users (one post of 5 ratings each) on a model of {} users x {} "
             "items, rank 10 ({})\n",
             users, model->n_users(), model->n_items(), path);
  fmt::print("{:<15} {:>9} {:>9} {:>11} {:>13} {:>15} {:>14}\n", "phase", "accepted", "refused",
             "users kept", "RSS growth MB", "posts/s first", "posts/s last");
  serve::service_options defaults;
  serve::service_options users_bound = defaults;
  users_bound.max_new_ids_per_minute = 0;
  serve::service_options none = users_bound;
  none.max_posted_users = 0;
  double bounded_growth = 0.0;
  for (auto [name, o] : {std::pair{"defaults", defaults}, std::pair{"ids unbounded", users_bound},
                         std::pair{"no bounds", none}}) {
    auto r = flood(model, o, users);
    fmt::print("{:<15} {:>9} {:>9} {:>11} {:>13.1f} {:>15.0f} {:>14.0f}\n", name, r.accepted,
               r.refused, r.kept, r.rss_growth_mb, r.first_rate, r.last_rate);
    if (std::string(name) == "ids unbounded")
      bounded_growth = r.rss_growth_mb;
    else if (std::string(name) == "no bounds" && r.rss_growth_mb > 0)
      fmt::print("the users' bound keeps {:.2f}x the memory the flood takes without bounds\n",
                 bounded_growth / r.rss_growth_mb);
  }
}
