/// Who may ask what of the HTTP server: a bearer token for writes (and, when asked, for
/// reads), a Host allow-list against DNS rebinding, and `Content-Type: application/json`
/// for POST (a page in a browser cannot send that cross-origin without a preflight, so a
/// plain-text "simple" POST from any web site is refused). No sockets here: the checks
/// take the request's header values, so every case is testable without a server.
///
///   http_access a{.token = read_token_file("token").value(), .check_host = true};
///   auto no = check_access(a, {.method = "POST", .host = "evil.example:8080"}, "127.0.0.1", "127.0.0.1");
///   // no->status == 403
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/model/error.hpp"

namespace recflow::serve {

/// The access rules of a server, with defaults (no token, any Host, JSON POSTs).
struct http_access {
  /// The bearer token every write (any method but GET and HEAD) must carry as
  /// `Authorization: Bearer TOKEN`; empty: no authentication.
  std::string token{};
  bool token_reads = false;  ///< reads (GET, HEAD) need the token too
  /// Refuse (403) a request whose Host is not allowed: one of `allowed_hosts`, or, when
  /// that is empty, the listen host, localhost, 127.0.0.1 or ::1. A Host that is the
  /// address the connection arrived on, written as an address, is always allowed (DNS
  /// rebinding needs a name); "*" in the list allows any Host.
  bool check_host = false;
  std::vector<std::string> allowed_hosts{};  ///< names or addresses, without port ("[::1]" or "::1")
  bool require_json = true;  ///< POST needs Content-Type: application/json (else 415)
};

/// The header values of a request that the checks read (empty: absent).
struct request_head {
  std::string_view method{};
  std::string_view host{};           ///< the Host header, "name[:port]" or "[v6][:port]"
  std::string_view authorization{};  ///< the Authorization header
  std::string_view content_type{};   ///< the Content-Type header
};

/// Why a request is refused: 401 (then send `WWW-Authenticate: Bearer`), 403 or 415.
struct access_refusal {
  int status = 0;
  std::string message{};
};

/// The refusal for `r`, or nothing when it may be answered. `listen_host` is the host the
/// server was asked to listen on, `local_address` the address the connection arrived on.
std::optional<access_refusal> check_access(const http_access& a, const request_head& r,
                                           std::string_view listen_host,
                                           std::string_view local_address);

/// Equal strings, in time that depends on their lengths only (not on where they differ).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// The host part of a Host header, lower-cased, without port or IPv6 brackets.
std::string host_name(std::string_view host_header);

/// The token in `path`: its content without leading and trailing white space. Fails when
/// the file cannot be read or holds no token.
result<std::string> read_token_file(const std::string& path);

}  // namespace recflow::serve
