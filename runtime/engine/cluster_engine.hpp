/// The cluster engine: runs a streaming_graph with its owners on `recflow node`
/// processes, over CAF's middleman (remote_actor to each node; no other cluster layer).
///
///   auto engine = cluster_engine::make(graph, {.nodes = {"10.0.0.1:4242", "10.0.0.2:4242"}});
///   std::cout << (*engine)->explain();      // which node owns which shards
///   (*engine)->run();                        // same rounds as local_engine
///   factor_model m = (*engine)->snapshot().value();
///
/// The driver (this process) holds the source, the partition step and the coordinator
/// (engine/coordinator.hpp, the one local_engine runs too, so every engine_options field
/// and the graph's evaluation and on_model work alike); user and item owners are placed
/// on the nodes round robin (user shards first, then item shards, continuing the
/// rotation). Slices and each pass's rows travel as wire frames
/// (graph/wire.hpp) that every receiver validates; owners on different nodes talk to
/// each other directly. The model equals local_engine's bit for bit: the owners run the
/// same code on the same values, only the rows are copied instead of shared.
///
/// Failure detection: the driver monitors every node and owner. A node that dies or whose
/// connection closes is lost; so is a node that sends nothing for `engine.stall_timeout`
/// (a silently cut network). Without `recover` the job stops with "lost node HOST:PORT at
/// batch N" and the engine is unusable afterwards.
///
/// Recovery (`recover`): every `checkpoint_every` batches the owners export their shards
/// after the same batch and the driver keeps that model (the checkpoint) with the stream
/// position it covers, and keeps every batch routed since (the replay log: at most
/// checkpoint_every + max_in_flight batches). When a node is lost, the driver stops every
/// owner (the survivors have moved past the checkpoint), places the lost node's shards on
/// the surviving nodes (the fewest shards first), spawns fresh owners seeded from the
/// checkpoint, and routes the logged batches again before pulling the source: every
/// source replays, since the replay comes from the driver's log. Batches are numbered
/// and stamped exactly as before, so no rating is lost or applied twice and the model
/// equals a failure-free run's bit for bit. Replayed batches were already reported: they
/// update history() but do not call the batch callback again. A node lost during a
/// recovery is handled by recovering again; losing every node is an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recflow/actors/link_auth.hpp"
#include "recflow/engine/stream_engine.hpp"

namespace recflow {

/// "host:port" of a node.
struct node_endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string name() const { return host + ":" + std::to_string(port); }
};

/// Parses "host:port" (port 1..65535): "node address 'x' is not host:port".
result<node_endpoint> parse_endpoint(const std::string& text);
/// Parses a comma-separated list of nodes ("a:1,b:2"), at least one.
result<std::vector<node_endpoint>> parse_endpoints(const std::string& list);

/// How the cluster engine runs, with defaults.
struct cluster_options {
  std::vector<node_endpoint> nodes{};///< at least one
  /// The shared secret the nodes ask for (read_secret_file, link_secret.hpp); the driver
  /// proves it to each node and checks that each node knows it too. Empty: no proof is
  /// sent (only nodes started insecure accept the job).
  std::string secret{};
  /// TLS files (check_link_tls): the driver connects to the nodes over mutual TLS, which
  /// nodes started with TLS require. Empty: plain TCP.
  link_tls tls{};
  engine_options engine{};           ///< driver threads, batches in flight, stall timeout
  /// Connecting, the handshake and each spawn must finish within this time.
  std::chrono::milliseconds connect_timeout{10'000};
  /// On a lost node, restore from the last checkpoint onto the surviving nodes and replay
  /// (see the class comment) instead of stopping the job.
  bool recover = false;
  /// With recover: batches between the checkpoints the driver keeps in memory.
  std::size_t checkpoint_every = 10;
  /// With recover: one line per event a user should know of ("lost node ... restoring
  /// ..."), called on the driving thread; may be empty.
  std::function<void(const std::string&)> on_event{};
  /// With recover: called on the driving thread with each checkpoint's model (consistent:
  /// every owner after the same batch), its batch count, ratings applied and the
  /// source's position after it (e.g. to write it to disk); may be empty.
  std::function<void(const factor_model&, std::uint64_t batches, std::uint64_t ratings,
                     const std::string& position)>
    on_checkpoint{};
};

/// "at least one node is needed" and the engine options' checks.
result<void> validate(const cluster_options& o);

/// Where each shard runs: node index per user shard and per item shard.
struct node_placement {
  std::vector<std::size_t> user_node, item_node;
};
/// Round robin over `nodes`: user shard s on node s % nodes, item shard t on node
/// (partitions + t) % nodes.
node_placement place_round_robin(std::size_t partitions, std::size_t nodes);
/// `p` with every shard of a node that is not `alive` moved to a live node: each to the
/// live node holding the fewest shards (the lowest index on a tie), user shards first.
/// Shards on live nodes stay. Needs at least one live node.
node_placement replace_lost(const node_placement& p, const std::vector<bool>& alive);
/// One line per node: "node 127.0.0.1:4001: user shards 0 2, item shards 1", then what
/// the driver keeps: "driver: " + `driver`.
std::string describe(const node_placement& p, const std::vector<node_endpoint>& nodes,
                     const std::string& driver = "source, partition (slices as wire frames), "
                                                 "coordinator, evaluation");

class cluster_engine : public stream_engine {
 public:
  /// Validates, connects to every node (handshake: a protocol mismatch is an
  /// errc::version error naming the node), spawns the owners there and wires them up.
  static result<std::unique_ptr<cluster_engine>> make(streaming_graph g,
                                                      const cluster_options& o);
  ~cluster_engine();

  // run(), run_n(), run_until(), history(), finished() and graph(): see stream_engine.

  /// The model after the last completed batch, gathered from every node.
  result<factor_model> snapshot();
  /// Which node owns which shards (what `--explain` prints; after a recovery, the
  /// placement now, lost nodes listed without shards).
  std::string explain() const;
  /// Recoveries from a lost node so far.
  std::size_t recoveries() const noexcept;

 private:
  struct impl;
  explicit cluster_engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace recflow
