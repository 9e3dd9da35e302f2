/// A small synchronous Redis client over hiredis: one connection, commands as argument
/// vectors, replies as values, errors naming the server. Not thread-safe: one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recflow/model/error.hpp"

struct redisContext;
struct redisReply;

namespace recflow {

/// A Redis reply as a value (hiredis's redisReply, copied out).
struct redis_reply {
  enum kind_t { nil, string, array, integer, status, error_text } kind = nil;
  std::string str;                 ///< string, status or error_text
  long long integer_value = 0;     ///< integer
  std::vector<redis_reply> elements;  ///< array
};

/// "HOST:PORT" split; the port must be 1..65535.
struct host_port {
  std::string host;
  int port = 0;
};
result<host_port> parse_host_port(std::string_view text);

/// Who to log in as (AUTH): an ACL user and its password. An empty password: no AUTH
/// (the server's default user without a password); an empty user with a password: the
/// default user's password (AUTH PASSWORD).
struct redis_credentials {
  std::string user;
  std::string password;
};

/// The credentials of `recflow stream` and `recflow publish`, never from the command line
/// but the user name: from `password_file` when given (one line: the password; two lines:
/// the user, then the password), refused when the file is open to group or others; else
/// from the environment (RECFLOW_REDIS_USER, RECFLOW_REDIS_PASSWORD). `user` (from
/// --redis-user) names the user when the file or the environment does not.
result<redis_credentials> read_redis_credentials(const std::string& password_file,
                                                 const std::string& user);

class redis_client {
 public:
  /// Connects to `at`, giving up after `timeout`, and logs in with `auth` (AUTH) when it
  /// has a password; a refused login is an error naming the server and the user.
  static result<redis_client> connect(const host_port& at,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                      const redis_credentials& auth = {});
  redis_client(redis_client&&) noexcept;
  redis_client& operator=(redis_client&&) noexcept;
  ~redis_client();

  /// Sends one command and waits for its reply; a Redis error reply is an error too.
  result<redis_reply> command(const std::vector<std::string>& args);
  /// Sends one command and hands hiredis's reply to `read` without copying it (for large
  /// replies read on a hot path); a Redis error reply is an error and is not handed over.
  result<void> command_raw(const std::vector<std::string>& args,
                           const std::function<void(const redisReply&)>& read);
  /// Queues a command without waiting (pipelining); read its reply with read_reply().
  result<void> append(const std::vector<std::string>& args);
  /// The reply of the oldest queued command.
  result<redis_reply> read_reply();
  /// How long a read may wait for the server (default 5 s + what a command blocks).
  result<void> set_timeout(std::chrono::milliseconds t);
  /// The connection failed (I/O error, closed by the server): every later command fails;
  /// connect again. A Redis error reply leaves the connection usable.
  bool broken() const noexcept;
  /// "redis HOST:PORT", for messages.
  const std::string& name() const noexcept { return name_; }

 private:
  redis_client(redisContext* c, std::string name) : ctx_(c), name_(std::move(name)) {}
  error failure(const std::string& what) const;
  redisContext* ctx_ = nullptr;
  std::string name_;
};

}  // namespace recflow
