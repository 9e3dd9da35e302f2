/// One HTTP connection of an http_server, and what all of a server's connections share.
/// Internal to the serve layer (http_server.cpp starts the connections it accepts).
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "recflow/serve/http_server.hpp"

namespace recflow::serve {

/// What every connection of a server shares: routes, options, and the connections open
/// in all and per client address.
struct server_state {
  http_routes routes;
  http_options opts;
  const void* owner = nullptr;  ///< the server, as the event hub knows it
  boost::asio::thread_pool* queries = nullptr;  ///< the query threads (null: the I/O threads answer)
  std::atomic<std::size_t> queued{0};    ///< queries given to the query threads, not answered
  std::atomic<std::size_t> open{0};
  std::mutex clients_mutex;
  std::unordered_map<std::string, std::size_t> per_client;

  server_state(http_routes r, http_options o, const void* who)
      : routes(r), opts(std::move(o)), owner(who) {}

  /// Counts a connection from `client`; false (nothing counted) when a limit is reached.
  bool admit(const std::string& client) {
    if (open.fetch_add(1) >= opts.max_connections) {
      open.fetch_sub(1);
      return false;
    }
    std::lock_guard lock(clients_mutex);
    auto& n = per_client[client];
    if (n >= opts.max_connections_per_client) {
      if (n == 0)
        per_client.erase(client);
      open.fetch_sub(1);
      return false;
    }
    ++n;
    return true;
  }
  void release(const std::string& client) noexcept {
    {
      std::lock_guard lock(clients_mutex);
      if (auto it = per_client.find(client); it != per_client.end() && --it->second == 0)
        per_client.erase(it);
    }
    open.fetch_sub(1);
  }
};

/// Serves the accepted socket `s` from `client` (counted by state.admit) until it closes;
/// the connection releases its count then.
void start_session(boost::asio::ip::tcp::socket s, server_state& state, std::string client);

}  // namespace recflow::serve
