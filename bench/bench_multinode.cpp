// Streaming throughput of the graph across processes vs the local engine, in the same run:
// the same synthetic stream on local_engine (one process, 2 workers) and on cluster_engine
// with its owners on `recflow node` processes on 127.0.0.1 (started and stopped here).
// Prints ratings x passes per second, their ratio, and bytes on the wire per rating.
// Then batch ALS on a rating file: train_als_graph (one process) against train_als_cluster
// with its blocks on the same nodes: sweeps per second, their ratio, bytes on the wire
// per sweep. Then streaming implicit ALS on the same file as events (every rating an event
// of weight 1, batches of 1,000): its reference loop, implicit_graph (one process) and
// implicit_cluster with its owners on the nodes: events per second and their ratios.
// Each cluster run of the first two parts is made twice, with plain links (--insecure) and with mutual
// TLS (certificates from tools/tls-certs.sh, in a temporary folder), on nodes of each kind
// started here: the "TLS/plain" column is the TLS run's throughput over the plain run's.
//
//   ./bench_multinode                          # 1M ratings, ranks 10 50, 2 nodes; ALS on ml-100k
//   ./bench_multinode --tls off                # plain links only
//   ./bench_multinode --ratings 200000 --ranks 10 --batch 5000 --nodes 3 --recflow ./recflow
//   ./bench_multinode --only als --als-data ratings.csv --als-iterations 10
//   ./bench_multinode --only implicit --ranks 32,50
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "recflow/data/events.hpp"
#include "recflow/data/ingest.hpp"
#include "recflow/engine/als_engine.hpp"
#include "recflow/engine/cluster_als.hpp"
#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/implicit_cluster.hpp"
#include "recflow/engine/implicit_graph.hpp"
#include "recflow/engine/local_engine.hpp"

using namespace recflow;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::uint64_t ratings = 1'000'000;
  std::vector<int> ranks{10, 50};
  int passes = 2;
  std::size_t batch = 10'000;
  std::size_t nodes = 2;
  std::size_t partitions = 2;
  std::size_t workers = 2;  ///< local engine threads; each node runs 1
  std::size_t in_flight = 2;
  std::string recflow;      ///< the recflow binary (default: beside this program)
  std::string only;         ///< "stream", "als" or "implicit": run one part only
  std::string als_data;     ///< ALS ratings, implicit events (default: ml-100k/u.data under RECFLOW_DATA)
  int als_iterations = 10;
  bool tls = true;          ///< also run the cluster over mutual TLS
};

options parse(int argc, char** argv) {
  options o;
  o.recflow = (std::filesystem::path(argv[0]).parent_path() / "recflow").string();
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--ratings") o.ratings = std::stoull(v);
    else if (k == "--passes") o.passes = std::stoi(v);
    else if (k == "--batch") o.batch = std::stoull(v);
    else if (k == "--nodes") o.nodes = std::stoull(v);
    else if (k == "--partitions") o.partitions = std::stoull(v);
    else if (k == "--workers") o.workers = std::stoull(v);
    else if (k == "--in-flight") o.in_flight = std::stoull(v);
    else if (k == "--recflow") o.recflow = v;
    else if (k == "--only") o.only = v;
    else if (k == "--als-data") o.als_data = v;
    else if (k == "--als-iterations") o.als_iterations = std::stoi(v);
    else if (k == "--tls") o.tls = v != "off";
    else if (k == "--ranks") {
      o.ranks.clear();
      for (std::size_t at = 0; at < v.size();) {
        auto comma = v.find(',', at);
        o.ranks.push_back(std::stoi(v.substr(at, comma - at)));
        at = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return o;
}

/// A `recflow node --listen 127.0.0.1:0 LINK...` child (LINK: --insecure, or the TLS
/// options), stopped (SIGTERM) when destroyed.
class node_child {
 public:
  node_child(const std::string& recflow, std::vector<std::string> link) {
    std::vector<std::string> args{recflow, "node", "--listen", "127.0.0.1:0", "--workers", "1"};
    args.insert(args.end(), link.begin(), link.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0)
      std::exit(1);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out[1], STDOUT_FILENO);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDERR_FILENO);
      ::close(out[0]);
      ::execv(recflow.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    pollfd p{out[0], POLLIN, 0};
    while (::poll(&p, 1, 20'000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    ::close(out[0]);
    auto at = line.find("127.0.0.1:");
    if (at == std::string::npos) {
      fmt::print(stderr, "{} node did not start: '{}'\n", recflow, line);
      std::exit(1);
    }
    port_ = static_cast<std::uint16_t>(std::stoul(line.substr(at + 10)));
  }
  ~node_child() {
    ::kill(pid_, SIGTERM);
    for (int k = 0; k < 500 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

/// Nodes of one kind of link, and the TLS files a driver needs for them (none: plain).
struct node_set {
  std::vector<std::unique_ptr<node_child>> children;
  std::vector<node_endpoint> endpoints;
  link_tls tls;
};

node_set start_nodes(const options& o, const std::vector<std::string>& link, link_tls tls = {}) {
  node_set s;
  s.tls = std::move(tls);
  for (std::size_t n = 0; n < o.nodes; ++n) {
    s.children.push_back(std::make_unique<node_child>(o.recflow, link));
    s.endpoints.push_back({"127.0.0.1", s.children.back()->port()});
  }
  return s;
}

/// A CA, a node's and a driver's certificates made by tools/tls-certs.sh in a temporary
/// folder, removed when destroyed.
struct cert_dir {
  std::filesystem::path dir = std::filesystem::temp_directory_path()
                              / ("recflow-bench-tls-" + std::to_string(::getpid()));
  cert_dir() {
    auto cmd = std::string(RECFLOW_SOURCE_DIR) + "/tools/tls-certs.sh " + dir.string()
               + " node driver >/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      fmt::print(stderr, "cannot make certificates ({}): is openssl installed?\n", cmd);
      std::exit(1);
    }
  }
  ~cert_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
  link_tls driver() const {
    return {file("driver.pem"), file("driver-key.pem"), file("ca.pem")};
  }
  std::vector<std::string> node_args() const {
    return {"--tls-cert", file("node.pem"), "--tls-key", file("node-key.pem"), "--tls-ca",
            file("ca.pem")};
  }
};

std::shared_ptr<rating_source> replay(const std::vector<rating_batch>& batches) {
  auto at = std::make_shared<std::size_t>(0);
  return source_from([at, &batches]() -> std::optional<rating_batch> {
    if (*at == batches.size())
      return std::nullopt;
    return batches[(*at)++];
  });
}

template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size())
    return INFINITY;
  double worst = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    double x = a[k], y = b[k];
    worst = std::max(worst, std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-12}));
  }
  return worst;
}

struct measured {
  double seconds = 0.0;
  double wire_bytes = 0.0;  ///< slices and rows between the driver and owners
  double messages = 0.0;
  factor_model model;
};

template <class Engine>
measured run(Engine& e) {
  measured m;
  auto t0 = clock_type::now();
  auto sum = e.run();
  m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (!sum) {
    fmt::print(stderr, "run failed: {}\n", sum.err().message);
    std::exit(1);
  }
  for (const auto& b : e.history())
    for (auto k : {edge_index::partition_to_users, edge_index::partition_to_items,
                   edge_index::users_to_items, edge_index::items_to_users}) {
      m.wire_bytes += double(b.edges[std::size_t(k)].bytes);
      m.messages += double(b.edges[std::size_t(k)].messages);
    }
  m.model = e.snapshot().value();
  return m;
}

}  // namespace

/// Batch ALS at each rank: the local graph (o.workers threads, o.partitions blocks per
/// side) against the same blocks on the nodes, the driver with 1 thread; then on the TLS
/// nodes when there are any.
/// --als-data, or MovieLens 100K under RECFLOW_DATA.
std::string data_file(const options& o) {
  if (!o.als_data.empty())
    return o.als_data;
  const char* env = std::getenv("RECFLOW_DATA");
  return std::string(env && *env ? env : "../shared/data") + "/ml-100k/u.data";
}

void bench_als(const options& o, const node_set& plain, const node_set* tls) {
  const auto path = data_file(o);
  auto train = read_ratings(path);
  if (!train) {
    fmt::print(stderr, "{}\n", train.err().message);
    std::exit(1);
  }
  fmt::print("\nbatch ALS on {}: {} ratings, {} users x {} items, {} iterations, {} blocks per "
             "side; local graph: {} workers; cluster: the same nodes + the driver (1 thread)\n",
             path, train->size(), train->users.size(), train->items.size(), o.als_iterations,
             o.partitions, o.workers);
  fmt::print("{:>5} {:>13} {:>13} {:>7} {:>12} {:>15} {:>15} {:>10} {:>11} {:>9}\n", "rank",
             "local sweep/s", "nodes sweep/s", "ratio", "rows/sweep", "wire B/sweep",
             "B/row shipped", "max diff", "TLS sweep/s", "TLS/plain");
  for (int rank : o.ranks) {
    als_params p{.rank = rank, .iterations = o.als_iterations};
    als_graph_options g{.partitions = o.partitions, .workers = o.workers};
    double rows = 0.0, bytes = 0.0;
    auto t0 = clock_type::now();
    auto local = train_als_graph(*train, p, g);
    double local_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    als_cluster_options co{.nodes = plain.endpoints, .graph = g};
    co.graph.workers = 1;
    t0 = clock_type::now();
    auto remote = train_als_cluster(*train, p, co, [&](const als_sweep_metrics& m) {
      rows += double(m.item_rows_shipped + m.user_rows_shipped);
      bytes += double(m.wire_bytes);
    });
    double remote_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (!local || !remote) {
      fmt::print(stderr, "batch ALS failed: {}\n", (!local ? local : remote).err().message);
      std::exit(1);
    }
    double diff = std::max({max_rel_diff(local->U().data(), remote->U().data()),
                            max_rel_diff(local->P().data(), remote->P().data()),
                            max_rel_diff(local->user_bias(), remote->user_bias()),
                            max_rel_diff(local->item_bias(), remote->item_bias())});
    double it = o.als_iterations;
    std::string tls_rate = "-", tls_ratio = "-";
    if (tls) {
      auto secured = co;
      secured.nodes = tls->endpoints;
      secured.tls = tls->tls;
      t0 = clock_type::now();
      auto over_tls = train_als_cluster(*train, p, secured);
      double tls_s = std::chrono::duration<double>(clock_type::now() - t0).count();
      if (!over_tls) {
        fmt::print(stderr, "batch ALS over TLS failed: {}\n", over_tls.err().message);
        std::exit(1);
      }
      tls_rate = fmt::format("{:.2f}", it / tls_s);
      tls_ratio = fmt::format("{:.2f}", remote_s / tls_s);
    }
    fmt::print("{:>5} {:>13.2f} {:>13.2f} {:>7.2f} {:>12.0f} {:>15.0f} {:>15.1f} {:>10.1e} {:>11} "
               "{:>9}\n",
               rank, it / local_s, it / remote_s, local_s / remote_s, rows / it, bytes / it,
               rows > 0 ? bytes / rows : 0.0, diff, tls_rate, tls_ratio);
  }
  fmt::print("ratio: nodes sweeps/s / local (wall time, including setup and collecting the "
             "model); rows/sweep: factor rows shipped between blocks (both halves); wire "
             "B/sweep: frame bytes between processes (blocks on one node share rows as "
             "messages); B/row shipped: wire bytes over all rows shipped\n");
}

/// Streaming implicit ALS at each rank on the events of data_file(o) in batches of 1,000:
/// the reference loop, the local graph (o.workers threads, o.partitions owners per side)
/// and the same owners on the plain nodes (the driver with 1 thread).
void bench_implicit_stream(const options& o, const node_set& plain) {
  const auto path = data_file(o);
  auto table = read_events(path, {.ingest = {}, .threshold = 0.0});
  if (!table) {
    fmt::print(stderr, "{}\n", table.err().message);
    std::exit(1);
  }
  auto events = to_events(table->ratings, table->users, table->items).value();
  constexpr std::size_t batch = 1000;
  fmt::print("\nstreaming implicit ALS on {}: {} events (every rating, weight 1) in batches of "
             "{}, {} owners per side; local graph: {} workers; cluster: the same nodes + the "
             "driver (1 thread)\n",
             path, events.size(), batch, o.partitions, o.workers);
  fmt::print("{:>5} {:>13} {:>13} {:>13} {:>11} {:>11} {:>10}\n", "rank", "reference ev/s",
             "local ev/s", "nodes ev/s", "local/ref", "nodes/ref", "same model");
  auto timed = [&](implicit_stream_updater& u) {
    auto t0 = clock_type::now();
    for (std::size_t b = 0; b < events.size(); b += batch) {
      std::vector<stamped_event> part(events.begin() + std::ptrdiff_t(b),
                                      events.begin() + std::ptrdiff_t(std::min(events.size(), b + batch)));
      if (auto ok = u.apply(part); !ok) {
        fmt::print(stderr, "streaming implicit ALS failed: {}\n", ok.err().message);
        std::exit(1);
      }
    }
    return double(events.size()) / std::chrono::duration<double>(clock_type::now() - t0).count();
  };
  for (int rank : o.ranks) {
    implicit_stream_params p;
    p.als.rank = rank;
    auto ref = implicit_stream_trainer::make(p).value();
    const double r = timed(ref);
    owner_graph_options g{.partitions = o.partitions, .workers = o.workers};
    auto local = implicit_graph::make(p, g).value();
    const double l = timed(*local);
    implicit_cluster_options co{.nodes = plain.endpoints, .graph = g};
    co.graph.workers = 1;
    auto remote = implicit_cluster::make(p, co);
    if (!remote) {
      fmt::print(stderr, "{}\n", remote.err().message);
      std::exit(1);
    }
    const double n = timed(**remote);
    auto m = (*remote)->snapshot();
    const bool same = m && *m == ref.model() && local->model() == ref.model();
    fmt::print("{:>5} {:>13.0f} {:>13.0f} {:>13.0f} {:>11.2f} {:>11.2f} {:>10}\n", rank, r, l, n,
               l / r, n / r, same ? "yes" : "NO");
  }
  fmt::print("ev/s: events per second of updates (every batch applied, nothing scored); "
             "ratios against the reference loop of the same run\n");
}

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  synthetic_params sp{.users = 100'000, .items = 20'000, .ratings = o.ratings,
                      .batch_size = o.batch, .seed = 3};
  auto gen = synthetic_source(sp);
  std::vector<rating_batch> batches;
  for (;;) {
    auto b = gen->next();
    if (!b || !*b)
      break;
    batches.push_back(std::move(**b));
  }
  // --insecure: the shared secret's challenge costs one round trip per node at connect
  // time and nothing per message, so plain links stand for secret-only links too.
  auto plain = start_nodes(o, {"--insecure"});
  std::unique_ptr<cert_dir> certs;
  std::unique_ptr<node_set> secured;
  if (o.tls) {
    certs = std::make_unique<cert_dir>();
    secured = std::make_unique<node_set>(start_nodes(o, certs->node_args(), certs->driver()));
  }
  cluster_options co;
  co.nodes = plain.endpoints;
  co.engine = {.workers = o.workers, .max_in_flight = o.in_flight};
  if (o.only == "als") {
    bench_als(o, plain, secured.get());
    return 0;
  }
  if (o.only == "implicit") {
    bench_implicit_stream(o, plain);
    return 0;
  }
  fmt::print("{} ratings in {} batches of {}, 100,000 users x 20,000 items, {} pass(es), {} "
             "partitions; local: {} workers; cluster: {} nodes on 127.0.0.1 (1 worker each) + "
             "the driver ({} workers), {} batches in flight\n",
             o.ratings, batches.size(), o.batch, o.passes, o.partitions, o.workers, o.nodes,
             o.workers, o.in_flight);
  fmt::print("{:>5} {:>14} {:>14} {:>7} {:>15} {:>14} {:>13} {:>10} {:>12} {:>9}\n", "rank",
             "local r*p/s", "nodes r*p/s", "ratio", "local B/rating", "wire B/rating",
             "msgs/batch", "max diff", "TLS r*p/s", "TLS/plain");
  for (int rank : o.ranks) {
    stream_params p;
    p.rank = rank;
    p.passes = o.passes;
    auto local = local_engine::make(make_streaming_graph(replay(batches), p, o.partitions, sp.scale),
                                    co.engine)
                   .value();
    auto l = run(*local);
    local.reset();
    auto cluster = cluster_engine::make(make_streaming_graph(replay(batches), p, o.partitions,
                                                             sp.scale),
                                        co);
    if (!cluster) {
      fmt::print(stderr, "{}\n", cluster.err().message);
      return 1;
    }
    auto c = run(**cluster);
    cluster->reset();
    std::string tls_rate = "-", tls_ratio = "-";
    if (secured) {
      auto over = co;
      over.nodes = secured->endpoints;
      over.tls = secured->tls;
      auto e = cluster_engine::make(
        make_streaming_graph(replay(batches), p, o.partitions, sp.scale), over);
      if (!e) {
        fmt::print(stderr, "{}\n", e.err().message);
        return 1;
      }
      auto t = run(**e);
      tls_rate = fmt::format("{:.0f}", double(o.ratings) * o.passes / t.seconds);
      tls_ratio = fmt::format("{:.2f}", c.seconds / t.seconds);
    }
    double work = double(o.ratings) * o.passes;
    double diff = std::max({max_rel_diff(l.model.U().data(), c.model.U().data()),
                            max_rel_diff(l.model.P().data(), c.model.P().data()),
                            max_rel_diff(l.model.user_bias(), c.model.user_bias()),
                            max_rel_diff(l.model.item_bias(), c.model.item_bias())});
    fmt::print("{:>5} {:>14.0f} {:>14.0f} {:>7.2f} {:>15.1f} {:>14.1f} {:>13.1f} {:>10.1e} {:>12} "
               "{:>9}\n",
               rank, work / l.seconds, work / c.seconds, l.seconds / c.seconds,
               l.wire_bytes / double(o.ratings), c.wire_bytes / double(o.ratings),
               c.messages / double(batches.size()), diff, tls_rate, tls_ratio);
  }
  fmt::print("ratio: nodes throughput / local; B/rating: payload bytes of slices and rows per "
             "rating (local: in-process messages, rows shared by pointer; nodes: wire frames); "
             "max diff: largest relative difference of the two models; TLS/plain: the same "
             "cluster run over mutual TLS, its throughput over the plain run's\n");
  if (o.only != "stream") {
    bench_als(o, plain, secured.get());
    bench_implicit_stream(o, plain);
  }
}
