/// The dashboard page and its scripts, built into the binary: CMake reads
/// runtime/serve/dashboard/ and Debian's dygraph.min.js (libjs-dygraphs) at build time and
/// generates their bytes as a C++ source (cmake/embed_assets.cmake).
#pragma once

#include <span>
#include <string_view>

namespace recflow::serve {

struct embedded_asset {
  std::string_view path;          ///< the URL path: "/", "/dashboard.js", ...
  std::string_view content_type;
  std::string_view body;
};

/// Every asset of the page.
std::span<const embedded_asset> dashboard_assets() noexcept;

}  // namespace recflow::serve
