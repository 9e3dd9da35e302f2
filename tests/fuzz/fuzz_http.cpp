// Fuzzes the HTTP request handling of `recflow serve` below the socket: any method,
// target and body against a small model. Every request must be answered (never a throw
// or a crash) with a status in 200..599 and a body that is valid JSON.
#include <cstdint>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "tiny_model.hpp"
#include "recflow/serve/request.hpp"
#include "recflow/serve/service.hpp"

using namespace recflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto model = fuzz::tiny_model();
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
