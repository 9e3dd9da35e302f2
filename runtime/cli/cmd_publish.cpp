// `recflow publish`: replays a rating file into a Redis stream (or serves it over TCP), in
// file order, so that `recflow stream --source redis://HOST:PORT/STREAM` (or
// `--source tcp://HOST:PORT`) can train on it.
#include <charconv>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/redis_login_option.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/graph/batch.hpp"
#include "recflow/sources/redis_source.hpp"
#include "recflow/sources/socket_source.hpp"

namespace recflow::cli {

namespace {

struct publish_options {
  std::string tcp;
  std::string redis;
  std::string stream;
  std::string data;
  std::string rate = "0";
  std::string format = "detect";
  std::string redis_user;
  std::string redis_password_file;
  std::string eos_key;
  bool no_end = false;
  bool lenient = false;
  bool json = false;
};

/// "1000", "1000/s" or "0" (as fast as possible).
result<double> parse_rate(std::string text) {
  if (text.ends_with("/s"))
    text.resize(text.size() - 2);
  double v = 0.0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || !(v >= 0.0))
    return error{errc::invalid_argument, "--rate must be N or N/s with N >= 0, got '" + text + "'"};
  return v;
}

int run_publish(const publish_options& o) {
  if (o.tcp.empty() == o.redis.empty())
    return report({errc::invalid_argument, "give one of --redis HOST:PORT (with --stream) and "
                                           "--tcp HOST:PORT"});
  if (!o.redis.empty() && o.stream.empty())
    return report({errc::invalid_argument, "--redis needs --stream NAME"});
  auto server = parse_host_port(o.redis.empty() ? o.tcp : o.redis);
  if (!server && o.tcp.ends_with(":0"))
    server = host_port{o.tcp.substr(0, o.tcp.size() - 2), 0};
  if (!server)
    return report(server.err());
  auto rate = parse_rate(o.rate);
  if (!rate)
    return report(rate.err());
  ingest_options io;
  auto fmt = parse_input_format(o.format);
  if (!fmt)
    return report({errc::invalid_argument, "unknown --format '" + o.format
                                             + "' (detect, ml100k, ml-csv, ml-dat, delimited)"});
  io.format = *fmt;
  io.strict = !o.lenient;
  auto table = read_ratings(o.data, io);
  if (!table)
    return report(table.err());
  auto events = to_batch(table->ratings, table->users, table->items).ratings;
  if (!o.tcp.empty()) {
    auto sent = serve_ratings_tcp(*server, events, *rate, [&](int port) {
      std::cout << fmt::format("serving {} ratings from {} on tcp://{}:{} to the first client\n",
                               events.size(), o.data, server->host, port)
                << std::flush;
    });
    if (!sent)
      return report(sent.err());
    std::cout << fmt::format("sent {} ratings\n", *sent);
    if (o.json)
      print_json({{"command", "publish"}, {"published", *sent}});
    return exit_ok;
  }
  auto auth = read_redis_credentials(o.redis_password_file, o.redis_user);
  if (!auth)
    return report(auth.err());
  redis_publish_options p{.at = {*server, o.stream}, .rate = *rate, .end_marker = !o.no_end,
                          .auth = std::move(*auth), .end_key = o.eos_key};
  auto end_key = redis_end_key(p.at, p.end_key);
  auto rep = publish_ratings(p, events);
  if (!rep)
    return report(rep.err());
  std::cout << fmt::format("published {} ratings from {} to redis {}:{} stream {} in {:.2f} s "
                           "({:.0f} ratings/s){}\n",
                           rep->published, o.data, server->host, server->port, o.stream,
                           rep->seconds, rep->seconds > 0 ? rep->published / rep->seconds : 0.0,
                           o.no_end ? "" : ", then set the end key " + end_key);
  if (o.json)
    print_json({{"command", "publish"},
                {"published", rep->published},
                {"stream", o.stream},
                {"last_id", rep->last_id},
                {"end_marker", !o.no_end},
                {"end_key", o.no_end ? std::string() : end_key},
                {"seconds", rep->seconds}});
  return exit_ok;
}

}  // namespace

void add_publish_command(CLI::App& app, int& exit_status) {
  auto o = std::make_shared<publish_options>();
  auto* cmd = app.add_subcommand(
    "publish", "Replay a rating file into a Redis stream (fields user, item, rating, timestamp), "
               "or serve it as lines over TCP");
  cmd->add_option("--redis", o->redis, "Redis server HOST:PORT");
  cmd->add_option("--stream", o->stream, "Stream name (with --redis)");
  cmd->add_option("--tcp", o->tcp,
                  "Instead of Redis: listen on HOST:PORT (port 0: any free one), send the "
                  "ratings as lines to the first client, close");
  cmd->add_option("--data", o->data, "Rating file to publish, in file order")->required();
  cmd->add_option("--rate", o->rate, "Ratings per second, N or N/s (0: as fast as possible)")
    ->capture_default_str();
  cmd->add_option("--format", o->format, "detect, ml100k, ml-csv, ml-dat or delimited")
    ->capture_default_str();
  cmd->add_flag("--no-end", o->no_end,
                "Do not set the end key after the last entry (the stream goes on)");
  cmd->add_option("--redis-eos-key", o->eos_key,
                  "The control key set (to the last entry id) after the last entry, which ends "
                  "`recflow stream --source redis://` (default STREAM:eos)");
  add_redis_login_options(*cmd, o->redis_user, o->redis_password_file);
  cmd->add_flag("--lenient", o->lenient, "Skip and count bad lines instead of stopping");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line of stdout");
  cmd->callback([o, &exit_status] { exit_status = run_publish(*o); });
}

}  // namespace recflow::cli
