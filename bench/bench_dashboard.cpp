// What the dashboard costs training: the same streams with no monitor, with a monitor and
// its server but nobody watching, and with one page open (a client following /events, as
// the page does). Every ratio is against the baseline of its own round.
//
//   ./bench_dashboard                                  # ml-latest-small, rank 10, 3 rounds of 3 s phases
//   ./bench_dashboard --data PATH --rank 10 --seconds 3 --rounds 3
//
// The page's client here only reads the events (what recflow pays: building and writing
// them); a real browser's drawing costs the machine too, but not recflow's threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include "recflow/engine/stream_job.hpp"
#include "recflow/job/stream_monitoring.hpp"
#include "split_data.hpp"

using namespace recflow;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string data = bench::data_file("ml-latest-small/ratings.csv");
  int rank = 10;
  double seconds = 3.0;
  int rounds = 3;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--data")
      o.data = v;
    else if (k == "--rank")
      o.rank = std::atoi(v.c_str());
    else if (k == "--seconds")
      o.seconds = std::atof(v.c_str());
    else if (k == "--rounds")
      o.rounds = std::atoi(v.c_str());
  }
  return o;
}

/// A client following /events until stopped: counts the batch events it read.
class events_client {
 public:
  explicit events_client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    boost::asio::write(socket_, boost::asio::buffer(req));
    thread_ = std::thread([this] {
      char buf[16384];
      std::string tail;
      for (;;) {
        boost::system::error_code ec;
        auto n = socket_.read_some(boost::asio::buffer(buf), ec);
        if (ec)
          return;
        tail.append(buf, n);
        for (auto at = tail.find("event: batch"); at != std::string::npos; at = tail.find("event: batch", at + 1))
          batches.fetch_add(1);
        tail.erase(0, tail.size() > 16 ? tail.size() - 16 : 0);
      }
    });
  }
  ~events_client() {
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    thread_.join();
  }
  std::atomic<std::uint64_t> batches{0};

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::thread thread_;
};

enum class watch { none, nobody, page };

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto data = bench::read_split(o.data);
  if (!data)
    return 1;
  auto [train, validation] = *data;
  stream_params params;
  params.rank = o.rank;
  fmt::print("bench_dashboard: {} ({} training ratings in batches of 1000, validated after each), "
             "rank {}, {:.0f} s phases, {} rounds, {} cores\n",
             o.data, train->size(), o.rank, o.seconds, o.rounds, std::thread::hardware_concurrency());

  // Repeated whole streams for at least `seconds`; ratings/s of training (evaluation included).
  auto phase = [&](watch w, std::uint64_t& events) {
    auto mon = w == watch::none ? nullptr : stream_monitoring::make(false);
    if (mon && !mon->listen("127.0.0.1:0", {}))
      std::abort();
    std::unique_ptr<events_client> page;
    if (w == watch::page) {
      auto addr = mon->address();
      page = std::make_unique<events_client>(std::uint16_t(std::stoi(addr.substr(addr.rfind(':') + 1))));
      while (mon->monitor().events().clients() == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::uint64_t ratings = 0;
    auto start = clock_type::now();
    do {
      stream_job_options job;
      job.training = params;
      job.input = table_input{train, 1000};
      job.evaluation.validation = validation;
      if (mon)
        mon->attach(job);
      auto run = run_stream_job(job);
      if (!run)
        std::abort();
      ratings += run->mark.ratings;
    } while (std::chrono::duration<double>(clock_type::now() - start).count() < o.seconds);
    double rate = double(ratings) / std::chrono::duration<double>(clock_type::now() - start).count();
    if (page) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      events = page->batches.load();
    }
    return rate;
  };

  std::uint64_t warm = 0;
  phase(watch::none, warm);  // caches, allocator and CPU frequency settle; not counted
  std::vector<double> nobody_ratio, page_ratio;
  for (int r = 0; r < o.rounds; ++r) {
    std::uint64_t events = 0, unused = 0;
    // Alternate the order, so a drift of the machine does not favour one phase.
    double base = 0, nobody = 0, page = 0;
    if (r % 2 == 0) {
      base = phase(watch::none, unused);
      nobody = phase(watch::nobody, unused);
      page = phase(watch::page, events);
    } else {
      page = phase(watch::page, events);
      nobody = phase(watch::nobody, unused);
      base = phase(watch::none, unused);
    }
    nobody_ratio.push_back(nobody / base);
    page_ratio.push_back(page / base);
    fmt::print("round {}: no monitor {:.0f} ratings/s; nobody watching {:.0f} (x{:.3f}); one page open "
               "{:.0f} (x{:.3f}, {} batch events read)\n",
               r + 1, base, nobody, nobody / base, page, page / base, events);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  fmt::print("median over {} rounds: nobody watching x{:.3f}, one page open x{:.3f} of training without a monitor\n",
             o.rounds, median(nobody_ratio), median(page_ratio));
  return 0;
}
