#include "recflow/sources/redis_client.hpp"

#include <charconv>

#include <hiredis/hiredis.h>

namespace recflow {

result<host_port> parse_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return error{errc::invalid_argument, "expected HOST:PORT, got '" + std::string(text) + "'"};
  int port = 0;
  auto digits = text.substr(colon + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size() || port < 1
      || port > 65535)
    return error{errc::invalid_argument,
                 "port must be 1..65535 in '" + std::string(text) + "'"};
  return host_port{std::string(text.substr(0, colon)), port};
}

namespace {

timeval to_timeval(std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(t.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((t.count() % 1000) * 1000);
  return tv;
}

redis_reply copy_reply(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.kind = redis_reply::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = redis_reply::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = redis_reply::error_text;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = redis_reply::integer;
      out.integer_value = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = redis_reply::array;
      out.elements.reserve(r->elements);
      for (std::size_t j = 0; j < r->elements; ++j)
        out.elements.push_back(copy_reply(r->element[j]));
      break;
    default:
      out.kind = redis_reply::nil;
  }
  return out;
}

}  // namespace

result<redis_client> redis_client::connect(const host_port& at, std::chrono::milliseconds timeout,
                                           const redis_credentials& auth) {
  std::string name = "redis " + at.host + ":" + std::to_string(at.port);
  auto* c = redisConnectWithTimeout(at.host.c_str(), at.port, to_timeval(timeout));
  if (c == nullptr)
    return error{errc::io, name + ": cannot allocate a connection"};
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    return error{errc::io, name + ": cannot connect: " + why};
  }
  redis_client client(c, name);
  if (auto ok = client.set_timeout(std::chrono::seconds(5)); !ok)
    return ok.err();
  if (!auth.password.empty()) {
    std::vector<std::string> args{"AUTH"};
    if (!auth.user.empty())
      args.push_back(auth.user);
    args.push_back(auth.password);
    if (auto r = client.command(args); !r)  // the message names the server, never the password
      return error{r.err().code, r.err().message + " (logging in as user '"
                                   + (auth.user.empty() ? std::string("default") : auth.user)
                                   + "')"};
  }
  return client;
}

redis_client::redis_client(redis_client&& o) noexcept : ctx_(o.ctx_), name_(std::move(o.name_)) {
  o.ctx_ = nullptr;
}

redis_client& redis_client::operator=(redis_client&& o) noexcept {
  if (this != &o) {
    if (ctx_)
      redisFree(ctx_);
    ctx_ = o.ctx_;
    name_ = std::move(o.name_);
    o.ctx_ = nullptr;
  }
  return *this;
}

redis_client::~redis_client() {
  if (ctx_)
    redisFree(ctx_);
}

bool redis_client::broken() const noexcept { return ctx_ == nullptr || ctx_->err != 0; }

error redis_client::failure(const std::string& what) const {
  return error{errc::io, name_ + ": " + what + ": "
                           + (ctx_ && ctx_->err ? std::string(ctx_->errstr) : "connection lost")};
}

result<void> redis_client::set_timeout(std::chrono::milliseconds t) {
  if (!ctx_ || redisSetTimeout(ctx_, to_timeval(t)) != REDIS_OK)
    return failure("cannot set the timeout");
  return {};
}

result<void> redis_client::append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (!ctx_ || redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data())
                 != REDIS_OK)
    return failure("cannot send " + (args.empty() ? std::string() : args[0]));
  return {};
}

result<redis_reply> redis_client::read_reply() {
  void* raw = nullptr;
  if (!ctx_ || redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
    return failure("no reply");
  auto out = copy_reply(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  if (out.kind == redis_reply::error_text)
    return error{errc::io, name_ + ": " + out.str};
  return out;
}

result<redis_reply> redis_client::command(const std::vector<std::string>& args) {
  if (auto ok = append(args); !ok)
    return ok.err();
  return read_reply();
}

}  // namespace recflow

namespace recflow {

result<void> redis_client::command_raw(const std::vector<std::string>& args,
                                       const std::function<void(const redisReply&)>& read) {
  if (auto ok = append(args); !ok)
    return ok.err();
  void* raw = nullptr;
  if (!ctx_ || redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
    return failure("no reply");
  auto* r = static_cast<redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    std::string why(r->str, r->len);
    freeReplyObject(raw);
    return error{errc::io, name_ + ": " + why};
  }
  try {
    read(*r);
  } catch (...) {
    freeReplyObject(raw);
    throw;
  }
  freeReplyObject(raw);
  return {};
}

}  // namespace recflow
