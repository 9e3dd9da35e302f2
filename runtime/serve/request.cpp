#include "recflow/serve/request.hpp"

#include <charconv>

namespace recflow::serve {

namespace {

int hex(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

result<std::string> decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    char c = s[k];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      int hi = k + 2 < s.size() ? hex(s[k + 1]) : -1;
      int lo = k + 2 < s.size() ? hex(s[k + 2]) : -1;
      if (hi < 0 || lo < 0)
        return error{errc::parse, "bad percent escape in the query"};
      out += static_cast<char>(hi * 16 + lo);
      k += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

result<target> target::parse(std::string_view text) {
  target t;
  auto q = text.find('?');
  auto path = decode(text.substr(0, q));
  if (!path)
    return path.err();
  t.path = std::move(*path);
  if (q == std::string_view::npos)
    return t;
  auto rest = text.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = decode(pair.substr(0, eq));
    auto value = decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key)
      return key.err();
    if (!value)
      return value.err();
    t.query[std::move(*key)] = std::move(*value);
  }
  return t;
}

std::optional<std::string_view> target::get(std::string_view key) const {
  auto it = query.find(key);
  if (it == query.end())
    return std::nullopt;
  return std::string_view(it->second);
}

std::optional<std::int64_t> parse_int64(std::string_view s) noexcept {
  if (s.empty())
    return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

result<std::vector<std::int64_t>> parse_id_list(std::string_view s, std::size_t max) {
  std::vector<std::int64_t> out;
  while (true) {
    auto comma = s.find(',');
    auto one = s.substr(0, comma);
    auto v = parse_int64(one);
    if (!v) {
      std::string msg = "'";
      msg.append(one.substr(0, 40));
      msg.append("' is not an id");
      return error{errc::invalid_argument, std::move(msg)};
    }
    out.push_back(*v);
    if (out.size() > max)
      return error{errc::invalid_argument, "more than " + std::to_string(max) + " ids"};
    if (comma == std::string_view::npos)
      break;
    s = s.substr(comma + 1);
  }
  return out;
}

result<listen_address> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  auto bad = [&] {
    return error{errc::invalid_argument,
                 "listen address must be HOST:PORT (port 0..65535, 0 = any free port), got '"
                   + std::string(text) + "'"};
  };
  if (colon == std::string_view::npos || colon == 0)
    return bad();
  listen_address a;
  auto host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return bad();
    host = host.substr(1, host.size() - 2);
  }
  a.host = std::string(host);
  auto port = parse_int64(text.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535)
    return bad();
  a.port = static_cast<std::uint16_t>(*port);
  return a;
}

}  // namespace recflow::serve
