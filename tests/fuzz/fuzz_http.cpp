// Fuzzes the HTTP request handling of `recflow serve` below the socket: any method,
// target and body against a small model. Every request must be answered (never a throw
// or a crash) with a status in 200..599 and a body that is valid JSON.
#include <cstdint>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"

using namespace recflow;

namespace {

/// Users 1..4 and items 10..14 at rank 2; user 1 rated items 10 and 11.
std::shared_ptr<const factor_model> tiny_model() {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto model = tiny_model();
  if (size < 1)
    return 0;
  static constexpr std::string_view methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", ""};
  auto method = methods[data[0] % 6];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  auto cut = rest.find('\n');
  auto target = rest.substr(0, cut);
  auto body = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);

  (void)serve::target::parse(target);
  serve::service_options o;
  o.max_n = 50;
  o.max_ratings_per_post = 100;
  serve::query_service service(o);
  service.publish(model, 1, 20);
  auto a = service.handle(method, target, body);
  if (a.status < 200 || a.status > 599)
    fuzz::fail("an answer's status is outside 200..599");
  if (!nlohmann::json::accept(a.body))
    fuzz::fail("an answer's body is not JSON");
  return 0;
}
