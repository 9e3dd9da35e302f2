// Serving latency and throughput on 127.0.0.1 with our own load generator (Asio/Beast,
// keep-alive connections), idle and while the actor graph streams, and the cost of the
// queries to training. Every figure is printed beside its baseline from the same run.
//
//   ./bench_serve                              # ml-latest-small, rank 50, 4 connections, 3 s phases
//   ./bench_serve --data PATH --rank 50 --connections 4 --seconds 3 --rate 1000 --publish-interval 100
//   ./bench_serve --training-nice idle --rounds 3             # (the defaults)
//
// Training throughput on a shared VM drifts by tens of percent from one few-second phase to
// the next, so the throughput figures come from `rounds` rounds, each with its own baseline
// (no server) next to its serving phases; a ratio is a phase against its round's baseline,
// and the summary is the median over rounds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/core.h>

#include "recflow/engine/stream_job.hpp"
#include "recflow/engine/thread_priority.hpp"
#include "recflow/model/random.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "recflow/serve/stream_link.hpp"
#include "median.hpp"
#include "split_data.hpp"

using namespace recflow;
using clock_type = std::chrono::steady_clock;
namespace http = boost::beast::http;

namespace {

struct options {
  std::string data = bench::data_file("ml-latest-small/ratings.csv");
  int rank = 50;
  std::size_t connections = 4;
  double seconds = 3.0;
  double rate = 1000.0;  ///< queries/s of the paced phases
  std::size_t server_threads = 1;
  std::size_t query_threads = serve::http_options{}.query_threads;  ///< 0: the I/O threads answer
  long publish_interval_ms = stream_job_options{}.publish_interval.count();
  thread_priority training{.idle = true};  ///< of the training threads while serving (stream --serve's default)
  std::size_t rounds = 3;  ///< rounds of (baseline, serving phases) for the throughput ratios
};

options parse(int argc, char** argv) {
  options o;
  if (argc % 2 == 0) {  // an option without its value, or --help
    fmt::print(stderr, "usage: bench_serve [--data FILE] [--rank N] [--connections N] [--seconds S] [--rate Q/s]\n"
                       "                   [--server-threads N] [--query-threads N] [--publish-interval MS]\n"
                       "                   [--training-nice idle|N]\n"
                       "                   [--rounds N]\n");
    std::exit(2);
  }
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a], v = argv[a + 1];
    if (k == "--data") o.data = v;
    else if (k == "--rank") o.rank = std::stoi(v);
    else if (k == "--connections") o.connections = std::stoul(v);
    else if (k == "--seconds") o.seconds = std::stod(v);
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--server-threads") o.server_threads = std::stoul(v);
    else if (k == "--query-threads") o.query_threads = std::stoul(v);
    else if (k == "--publish-interval") o.publish_interval_ms = std::stol(v);
    else if (k == "--training-nice") {
      auto p = thread_priority::parse(v);
      if (!p) { fmt::print(stderr, "{}\n", p.err().message); std::exit(2); }
      o.training = *p;
    }
    else if (k == "--rounds") o.rounds = std::max<std::size_t>(1, std::stoul(v));
    else { fmt::print(stderr, "unknown option {}\n", k); std::exit(2); }
  }
  return o;
}

struct load_result {
  std::vector<double> micros;  ///< latency of each request
  double seconds = 0.0;
  std::size_t errors = 0;
  double pct(double q) const {
    if (micros.empty()) return 0.0;
    auto v = micros;
    auto k = static_cast<std::size_t>(q * double(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    return v[k];
  }
  double rps() const { return seconds > 0 ? double(micros.size()) / seconds : 0.0; }
};

/// `conns` keep-alive connections sending `target(k)` for `seconds`: back to back when
/// `rate` is 0, else paced so that all together send `rate` requests/s (latency counted
/// from the scheduled send time, so a late server is not hidden).
template <class Target>
load_result run_load(std::uint16_t port, std::size_t conns, double seconds, double rate,
                     Target target, const std::atomic<bool>* until = nullptr) {
  std::vector<load_result> parts(conns);
  std::vector<std::thread> threads;
  auto start = clock_type::now();
  for (std::size_t c = 0; c < conns; ++c)
    threads.emplace_back([&, c] {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket s(ioc);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
      boost::beast::flat_buffer buf;
      auto& r = parts[c];
      auto interval = rate > 0 ? std::chrono::duration<double>(double(conns) / rate) : std::chrono::duration<double>(0);
      auto next = start + std::chrono::duration_cast<clock_type::duration>(interval * (double(c) / double(conns)));
      std::uint64_t k = c * 1'000'003ull;
      for (;;) {
        auto now = clock_type::now();
        if (until ? until->load() : std::chrono::duration<double>(now - start).count() >= seconds)
          break;
        auto sent = now;
        if (rate > 0) {
          if (next > now)
            std::this_thread::sleep_until(next);
          sent = next;
          next += std::chrono::duration_cast<clock_type::duration>(interval);
        }
        http::request<http::empty_body> req{http::verb::get, target(k++), 11};
        req.set(http::field::host, "127.0.0.1");
        http::write(s, req);
        http::response<http::string_body> res;
        http::read(s, buf, res);
        if (res.result_int() != 200)
          ++r.errors;
        r.micros.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - sent).count());
      }
    });
  for (auto& t : threads)
    t.join();
  load_result all;
  all.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  for (auto& p : parts) {
    all.micros.insert(all.micros.end(), p.micros.begin(), p.micros.end());
    all.errors += p.errors;
  }
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto data = bench::read_split(o.data);
  if (!data)
    return 1;
  auto [train_table, validation_table] = *data;
  const rating_table& train = *train_table;
  stream_params params;
  params.rank = o.rank;
  stream_eval_options eval;  // batches of 1,000
  fmt::print("bench_serve: {} ({} training ratings in batches of {}), rank {}, {} connections, "
             "{} server thread(s), {:.0f} s phases, paced rate {:.0f}/s, publish interval {} ms, {} cores\n",
             o.data, train.size(), eval.batch_size, o.rank, o.connections, o.server_threads,
             o.seconds, o.rate, o.publish_interval_ms, std::thread::hardware_concurrency());

  serve::query_service svc;
  svc.publish(std::make_shared<const factor_model>(o.rank, train.scale), 0);
  auto server = serve::http_server::start(
    svc, {.host = "127.0.0.1", .port = 0, .threads = o.server_threads,
          .query_threads = o.query_threads});
  if (!server) {
    fmt::print(stderr, "{}\n", server.err().message);
    return 1;
  }
  auto port = (*server)->port();

  // Training: repeated full streams over the training set for at least `seconds`; returns
  // ratings/s. Every stream but the first continues from the model the first one trained
  // (as `stream --init-model` does), so the model served while training has every user and
  // item from the start, like the idle server's, not a model growing from empty.
  std::shared_ptr<const factor_model> trained;
  auto train_here = [&](double seconds, bool serving, long interval_ms) {
    std::uint64_t ratings = 0;
    auto start = clock_type::now();
    do {
      stream_job_options local;
      local.training = params;
      local.input = table_input{train_table, eval.batch_size};
      local.evaluation.validation = validation_table;
      local.seed_model = trained;
      local.publish_interval = std::chrono::milliseconds(interval_ms);
      if (serving)
        local.engine.priority = o.training;
      std::unique_ptr<serve::stream_link> link;
      if (serving) {
        link = std::make_unique<serve::stream_link>(svc);
        if (trained)
          link->seed_rated(*trained);
        local.wrap_source = [&](std::shared_ptr<rating_source> s) { return link->wrap(std::move(s)); };
        local.on_model = [&](std::uint64_t b, factor_model&& m) { link->on_model(b, std::move(m)); };
      }
      auto run = run_stream_job(local);
      if (!run) {
        fmt::print(stderr, "{}\n", run.err().message);
        std::exit(1);
      }
      if (link)
        link->flush();
      ratings += train.size();
      if (!serving)
        svc.publish(std::make_shared<const factor_model>(std::move(run->model)), run->reports.size());
    } while (std::chrono::duration<double>(clock_type::now() - start).count() < seconds);
    return double(ratings) / std::chrono::duration<double>(clock_type::now() - start).count();
  };
  // Each stream runs on a thread of its own: while serving, that thread lowers its priority
  // as `stream --serve` does, and every thread it starts (actor workers, publisher) inherits
  // it, while the HTTP thread and the load generator (started by this thread) keep theirs,
  // like clients in another process.
  auto train_for = [&](double seconds, bool serving, long interval_ms) {
    double r = 0;
    std::thread t([&] {
      if (serving)
        lower_thread_priority(o.training);
      r = train_here(seconds, serving, interval_ms);
    });
    t.join();
    return r;
  };
  train_for(0, false, 0);  // one stream from empty: the model the others continue from
  trained = svc.snapshot()->model;
  train_for(o.seconds, false, 0);  // a warm-up; it also publishes the model the idle phases query
  auto model = svc.snapshot()->model;
  std::vector<std::int64_t> users, items;
  for (index_t u = 0; u < model->n_users(); ++u)
    if (model->user_known(u)) users.push_back(model->users().external(u));
  for (index_t i = 0; i < model->n_items(); ++i)
    if (model->item_known(i)) items.push_back(model->items().external(i));
  auto predict = [&](std::uint64_t k) {
    auto h = splitmix64_hash(k);
    return fmt::format("/predict?user={}&item={}", users[h % users.size()], items[(h >> 32) % items.size()]);
  };
  auto recommend = [&](std::uint64_t k) {
    return fmt::format("/recommend?user={}&n=10", users[splitmix64_hash(k) % users.size()]);
  };
  auto similar = [&](std::uint64_t k) {
    return fmt::format("/similar?item={}&n=10", items[splitmix64_hash(k) % items.size()]);
  };
  auto mixed = [&](std::uint64_t k) { return k % 2 ? predict(k) : recommend(k); };

  auto line = [](const char* what, const load_result& r, const load_result* base) {
    fmt::print("  {:<44} p50 {:>7.1f} us  p99 {:>7.1f} us  {:>8.0f} req/s  errors {}", what,
               r.pct(0.5), r.pct(0.99), r.rps(), r.errors);
    if (base)
      fmt::print("   (p99 x{:.2f}, req/s x{:.2f} vs idle)", r.pct(0.99) / base->pct(0.99), r.rps() / base->rps());
    fmt::print("\n");
  };
  fmt::print("model: {} users, {} items known\n", users.size(), items.size());
  fmt::print("latency, idle server (no training), closed loop:\n");
  auto idle_p = run_load(port, o.connections, o.seconds, 0, predict);
  line("predict", idle_p, nullptr);
  auto idle_r = run_load(port, o.connections, o.seconds, 0, recommend);
  line("recommend top-10", idle_r, nullptr);
  line("similar items top-10", run_load(port, o.connections, o.seconds, 0, similar), nullptr);
  auto idle_paced = run_load(port, o.connections, o.seconds, o.rate, mixed);
  line(fmt::format("predict+recommend paced {:.0f}/s", o.rate).c_str(), idle_paced, nullptr);

  // While streaming: the load runs until the training loop is done.
  auto while_training = [&](double rate, auto target, double& train_rate) {
    std::atomic<bool> stop{false};
    load_result r;
    std::thread load([&] { r = run_load(port, o.connections, 0, rate, target, &stop); });
    train_rate = train_for(o.seconds, true, o.publish_interval_ms);
    stop = true;
    load.join();
    return r;
  };
  fmt::print("latency while streaming (stream --serve: a snapshot published at most every {} ms, "
             "training threads at priority {}):\n", o.publish_interval_ms, o.training.text());
  double rate_p = 0, rate_r = 0;
  auto tr_p = while_training(0, predict, rate_p);
  line("predict, closed loop", tr_p, &idle_p);
  auto tr_r = while_training(0, recommend, rate_r);
  line("recommend top-10, closed loop", tr_r, &idle_r);
  double rate_every = train_for(o.seconds, true, 0);

  // The rounds: a baseline, then the serving phases, each ratio against its own round.
  struct round {
    double base = 0, serving = 0, top10 = 0, mixed = 0;
    load_result top10_lat, mixed_lat;
  };
  std::vector<round> rounds(o.rounds);
  load_result all_top10, all_mixed;
  for (auto& r : rounds) {
    r.base = train_for(o.seconds, false, 0);
    r.serving = train_for(o.seconds, true, o.publish_interval_ms);
    r.top10_lat = while_training(o.rate, recommend, r.top10);
    r.mixed_lat = while_training(o.rate, mixed, r.mixed);
    for (auto [from, to] : {std::pair{&r.top10_lat, &all_top10}, std::pair{&r.mixed_lat, &all_mixed}}) {
      to->micros.insert(to->micros.end(), from->micros.begin(), from->micros.end());
      to->seconds += from->seconds;
      to->errors += from->errors;
    }
  }
  auto per_round = [&](auto pick) {
    std::string out;
    for (std::size_t k = 0; k < rounds.size(); ++k)
      out += fmt::format("{}{}", k ? " / " : "", pick(rounds[k]));
    return out;
  };
  auto p99_ms = [](const load_result& l) { return fmt::format("{:.2f}", l.pct(0.99) / 1000.0); };
  line(fmt::format("recommend top-10 paced {:.0f}/s, {} rounds", o.rate, rounds.size()).c_str(), all_top10,
       nullptr);
  fmt::print("  {:<44} p99 per round (ms): {}\n", "", per_round([&](const round& r) { return p99_ms(r.top10_lat); }));
  line(fmt::format("predict+recommend paced {:.0f}/s, {} rounds", o.rate, rounds.size()).c_str(), all_mixed,
       &idle_paced);
  fmt::print("  {:<44} p99 per round (ms): {}\n", "", per_round([&](const round& r) { return p99_ms(r.mixed_lat); }));

  using bench::median;
  auto ratios = [&](double round::*phase) {
    std::vector<double> v;
    for (const auto& r : rounds)
      v.push_back(r.*phase / r.base);
    return v;
  };
  fmt::print("training throughput (ratings/s, full streams of the training set, rank {}), {} rounds of "
             "{:.0f} s phases, each against its round's baseline:\n", o.rank, rounds.size(), o.seconds);
  fmt::print("  {:<52} {}  (baselines)\n", "no server attached",
             per_round([](const round& r) { return fmt::format("{:.0f}", r.base); }));
  auto row = [&](const std::string& what, double round::*phase) {
    auto v = ratios(phase);
    fmt::print("  {:<52} median x{:.2f}  (rounds: {})\n", what, median(v),
               per_round([&](const round& r) { return fmt::format("x{:.2f}", r.*phase / r.base); }));
    return median(v);
  };
  row(fmt::format("publishing every {} ms, no queries", o.publish_interval_ms), &round::serving);
  auto top10_ratio = row(fmt::format("publishing, {:.0f} top-10 queries/s", o.rate), &round::top10);
  auto mixed_ratio = row(fmt::format("publishing, {:.0f} queries/s (predict+recommend)", o.rate), &round::mixed);
  auto first_base = rounds.front().base;
  fmt::print("  {:<52} x{:.2f}  (against round 1's baseline)\n", "publishing every batch (interval 0), no queries",
             rate_every / first_base);
  fmt::print("  {:<52} x{:.2f}\n", "publishing, closed-loop predict", rate_p / first_base);
  fmt::print("  {:<52} x{:.2f}\n", "publishing, closed-loop top-10", rate_r / first_base);

  auto p99 = all_top10.pct(0.99) / 1000.0;
  fmt::print("goals: top-10 p99 while training under 2 ms at {:.0f}/s: {:.2f} ms ({}); training keeps at least "
             "x0.70 under {:.0f} queries/s: top-10 x{:.2f}, mixed x{:.2f} ({})\n",
             o.rate, p99, p99 < 2.0 ? "met" : "NOT met", o.rate, top10_ratio, mixed_ratio,
             std::min(top10_ratio, mixed_ratio) >= 0.70 ? "met" : "NOT met");
  (*server)->stop();
  return 0;
}
