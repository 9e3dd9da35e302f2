#include "recflow/model/error.hpp"

namespace recflow {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::io: return "io";
    case errc::parse: return "parse";
    case errc::invalid_value: return "invalid_value";
    case errc::invalid_argument: return "invalid_argument";
    case errc::corrupt: return "corrupt";
    case errc::version: return "version";
    case errc::not_found: return "not_found";
  }
  return "unknown";
}

}  // namespace recflow
