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
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "recflow/engine/stream_job.hpp"
#include "recflow/job/stream_monitoring.hpp"
#include "recflow/serve/monitor.hpp"
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

/// A client following /events until stopped: counts the batch events it read and the
/// batch points they carried.
class events_client {
 public:
  explicit events_client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    boost::asio::write(socket_, boost::asio::buffer(req));
    thread_ = std::thread([this] {
      char buf[16384];
      std::string text;
      for (;;) {
        boost::system::error_code ec;
        auto n = socket_.read_some(boost::asio::buffer(buf), ec);
        if (ec)
          return;
        text.append(buf, n);
        std::size_t start = 0;
        for (auto end = text.find("\n\n"); end != std::string::npos; end = text.find("\n\n", start)) {
          constexpr std::string_view head = "event: batch\ndata: ";
          std::string_view e(text.data() + start, end - start);
          if (e.starts_with(head)) {
            batches.fetch_add(1);
            auto d = nlohmann::json::parse(e.substr(head.size()), nullptr, false);
            if (!d.is_discarded() && d.contains("points"))
              points.fetch_add(d["points"].size());
          }
          start = end + 2;
        }
        text.erase(0, start);
      }
    });
  }
  ~events_client() {
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    thread_.join();
  }
  std::atomic<std::uint64_t> batches{0}, points{0};

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

  // Repeated whole streams for at least `seconds`: ratings/s of training (evaluation
  // included), batches applied, and the batch events and points the page read.
  struct phase_result {
    double rate = 0;
    std::uint64_t batches = 0, events = 0, points = 0;
  };
  auto phase = [&](watch w) {
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
    phase_result out;
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
      out.batches += run->mark.batches;
    } while (std::chrono::duration<double>(clock_type::now() - start).count() < o.seconds);
    out.rate = double(ratings) / std::chrono::duration<double>(clock_type::now() - start).count();
    if (page) {  // the last batches reach the page within one event interval
      std::this_thread::sleep_for(serve::monitor_options{}.event_interval + std::chrono::milliseconds(100));
      out.events = page->batches.load();
      out.points = page->points.load();
    }
    return out;
  };

  phase(watch::none);  // caches, allocator and CPU frequency settle; not counted
  std::vector<double> nobody_ratio, page_ratio;
  for (int r = 0; r < o.rounds; ++r) {
    // Alternate the order, so a drift of the machine does not favour one phase.
    phase_result base, nobody, page;
    if (r % 2 == 0) {
      base = phase(watch::none);
      nobody = phase(watch::nobody);
      page = phase(watch::page);
    } else {
      page = phase(watch::page);
      nobody = phase(watch::nobody);
      base = phase(watch::none);
    }
    nobody_ratio.push_back(nobody.rate / base.rate);
    page_ratio.push_back(page.rate / base.rate);
    fmt::print("round {}: no monitor {:.0f} ratings/s; nobody watching {:.0f} (x{:.3f}); one page open "
               "{:.0f} (x{:.3f}; {} batches sent as {} events)\n",
               r + 1, base.rate, nobody.rate, nobody.rate / base.rate, page.rate, page.rate / base.rate,
               page.points, page.events);
    if (page.points != page.batches)
      fmt::print("  the page read {} batch points of the {} batches applied\n", page.points, page.batches);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  fmt::print("median over {} rounds: nobody watching x{:.3f}, one page open x{:.3f} of training without a monitor\n",
             o.rounds, median(nobody_ratio), median(page_ratio));
  return 0;
}
