#include "recflow/serve/http_access.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "recflow/model/private_file.hpp"

namespace recflow::serve {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool host_allowed(const http_access& a, std::string_view header, std::string_view listen_host,
                  std::string_view local_address) {
  if (header.empty())  // HTTP/1.0 without Host: no browser sends that
    return true;
  auto name = host_name(header);
  if (!local_address.empty() && name == lower(host_name(local_address)))
    return true;
  auto matches = [&](std::string_view allowed) {
    return allowed == "*" || host_name(allowed) == name;
  };
  if (!a.allowed_hosts.empty())
    return std::any_of(a.allowed_hosts.begin(), a.allowed_hosts.end(),
                       [&](const std::string& h) { return matches(h); });
  for (std::string_view h : {listen_host, std::string_view("localhost"),
                             std::string_view("127.0.0.1"), std::string_view("::1")})
    if (!h.empty() && matches(h))
      return true;
  return false;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is read, whatever the content.
  std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t k = 0; k < n; ++k) {
    auto x = k < a.size() ? static_cast<unsigned char>(a[k]) : 0u;
    auto y = k < b.size() ? static_cast<unsigned char>(b[k]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string host_name(std::string_view h) {
  h = trim_blanks(h);
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    return lower(h.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  // A bare IPv6 address ("::1") has several colons; "name:port" one.
  if (std::count(h.begin(), h.end(), ':') == 1)
    h = h.substr(0, h.find(':'));
  if (!h.empty() && h.back() == '.')  // "localhost." names the same host
    h.remove_suffix(1);
  return lower(h);
}

std::optional<access_refusal> check_access(const http_access& a, const request_head& r,
                                           std::string_view listen_host,
                                           std::string_view local_address) {
  if (a.check_host && !host_allowed(a, r.host, listen_host, local_address))
    return access_refusal{403, "host '" + std::string(r.host.substr(0, 100))
                                 + "' is not allowed (see --allow-host)"};
  bool read = r.method == "GET" || r.method == "HEAD";
  if (!a.token.empty() && (!read || a.token_reads)) {
    auto auth = trim_blanks(r.authorization);
    auto space = auth.find(' ');
    bool bearer = space != std::string_view::npos && lower(auth.substr(0, space)) == "bearer";
    if (!bearer || !constant_time_equal(trim_blanks(auth.substr(space + 1)), a.token))
      return access_refusal{401, read ? "this server needs a bearer token for every request"
                                      : "this server needs a bearer token for writes"};
  }
  if (a.require_json && r.method == "POST") {
    auto type = lower(trim_blanks(r.content_type.substr(0, r.content_type.find(';'))));
    if (type != "application/json")
      return access_refusal{415, "POST needs Content-Type: application/json"};
  }
  return std::nullopt;
}

result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error{errc::io, "cannot read the token file " + path};
  std::stringstream text;
  text << in.rdbuf();
  auto all = text.str();
  auto token = trim_blanks(all);
  if (token.empty())
    return error{errc::invalid_argument, "the token file " + path + " holds no token"};
  if (std::any_of(token.begin(), token.end(),
                  [](unsigned char c) { return c < 0x21 || c > 0x7e; }))
    return error{errc::invalid_argument,
                 "the token in " + path + " must be one line of printable characters without spaces"};
  return std::string(token);
}

}  // namespace recflow::serve
