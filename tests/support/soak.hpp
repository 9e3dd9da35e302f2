/// The soak run: the actor graph streams a rating file over and over for a set time while
/// clients query the live model over HTTP and POST new ratings that join the stream; the
/// process's resident memory is sampled throughout. bench_soak prints the figures, the
/// "[soak]" test runs it for half a minute and asserts on them.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "recflow/data/ingest.hpp"
#include "recflow/engine/local_engine.hpp"
#include "recflow/graph/graph.hpp"
#include "recflow/model/split.hpp"
#include "recflow/serve/http_server.hpp"
#include "recflow/serve/service.hpp"
#include "recflow/serve/stream_link.hpp"

namespace recflow::soak {

/// What the soak run does, with defaults.
struct soak_options {
  std::string data;                 ///< a rating file (ml-latest-small's ratings.csv)
  double seconds = 300;             ///< how long the stream runs
  double warmup_seconds = 30;       ///< memory is compared from this point on
  int rank = 50;
  std::size_t batch_size = 1000;
  std::size_t workers = 2;          ///< actor threads
  double query_rate = 500;          ///< GET predict/recommend/similar per second, in all
  std::size_t connections = 2;      ///< keep-alive query connections
  double post_rate = 20;            ///< POST /ratings per second (1-5 ratings each)
  std::size_t new_users = 200;      ///< ids unknown to the data that post (a bounded pool)
  std::chrono::milliseconds publish_interval{100};
  std::size_t eval_every = 100;     ///< validation RMSE every this many batches
  thread_priority training_priority{.idle = true};  ///< as stream --serve's --training-nice
};

/// What it measured.
struct soak_result {
  double seconds = 0;               ///< the stream's duration
  std::uint64_t batches = 0;        ///< micro-batches applied
  std::uint64_t ratings_streamed = 0;  ///< ratings applied (the file's, looped, and posted ones)
  double passes_over_data = 0;      ///< times the training file was streamed
  std::uint64_t queries = 0, query_failures = 0;
  std::uint64_t posts = 0, ratings_posted = 0, post_failures = 0;
  std::string first_failure;        ///< what the first failed request got
  std::uint64_t versions_published = 0;  ///< the last snapshot version queries saw
  std::optional<double> last_rmse;  ///< validation RMSE of the last evaluated batch
  // Resident memory is sampled every 250 ms. A model copy in flight is a few MB (the
  // publisher's, the current snapshot's, a query's older one), so start and end are the
  // medians of the samples in a window (a tenth of the time after the warm-up, 1-10 s).
  double rss_start_mb = 0;          ///< just after the warm-up (median of the window)
  double rss_end_mb = 0;            ///< at the end of the stream, load still running (median)
  double rss_peak_mb = 0;           ///< largest sample after the warm-up
  double rss_first_mb = 0;          ///< first sample, before the stream
};

/// Resident set size of this process now, in MiB (/proc/self/statm).
inline double rss_mb() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// A keep-alive HTTP/1.1 client on 127.0.0.1 that reconnects after an error.
class client {
 public:
  explicit client(std::uint16_t port) : port_(port) {}
  /// The status, or -1 with `error` set when the exchange failed.
  int send(boost::beast::http::verb verb, const std::string& target, const std::string& body,
           std::string& error) {
    namespace http = boost::beast::http;
    try {
      if (!socket_) {
        socket_.emplace(ioc_);
        socket_->connect({boost::asio::ip::make_address("127.0.0.1"), port_});
      }
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, "127.0.0.1");
      if (verb == http::verb::post)
        req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      http::write(*socket_, req);
      http::response<http::string_body> res;
      http::read(*socket_, buffer_, res);
      if (res.result_int() >= 300)
        error = target + " -> " + std::to_string(res.result_int()) + " " + res.body().substr(0, 200);
      return static_cast<int>(res.result_int());
    } catch (const std::exception& e) {
      error = target + " -> " + e.what();
      socket_.reset();
      buffer_.clear();
      return -1;
    }
  }

 private:
  std::uint16_t port_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
};

/// Runs the soak described by `o`; `progress` (if set) gets a line every ~10 s.
inline result<soak_result> run_soak(const soak_options& o,
                                    const std::function<void(const std::string&)>& progress = {}) {
  using clock = std::chrono::steady_clock;
  auto table = read_ratings(o.data);
  if (!table)
    return table.err();
  auto sp = random_split(table->ratings, 0.8, 42);
  auto train = table->with_ratings(sp.train);
  auto validation = std::make_shared<const rating_table>(table->with_ratings(sp.test));
  auto events = to_batch(train.ratings, train.users, train.items).ratings;
  if (events.empty())
    return error{errc::invalid_argument, o.data + ": no training ratings"};
  // The ids of the training ratings (the table's id maps also hold the validation's).
  std::vector<std::int64_t> user_ids, item_ids;
  std::vector<bool> user_in(train.users.size()), item_in(train.items.size());
  for (const auto& r : train.ratings) {
    if (!user_in[r.user])
      user_ids.push_back(train.users.external(r.user));
    if (!item_in[r.item])
      item_ids.push_back(train.items.external(r.item));
    user_in[r.user] = item_in[r.item] = true;
  }

  soak_result out;
  out.rss_first_mb = rss_mb();
  stream_params params;
  params.rank = o.rank;
  serve::query_service svc;
  svc.publish(std::make_shared<const factor_model>(o.rank, train.scale), 0);
  serve::stream_link link(svc);
  auto server = serve::http_server::start(svc, {.host = "127.0.0.1", .port = 0, .threads = 1});
  if (!server)
    return server.err();
  auto port = (*server)->port();

  // The file, looped until the time is up.
  std::atomic<bool> time_up{false};
  std::size_t at = 0;
  std::atomic<std::uint64_t> from_file{0};
  auto looped = source_from([&]() -> std::optional<rating_batch> {
    if (time_up.load())
      return std::nullopt;
    rating_batch b;
    b.ratings.reserve(o.batch_size);
    while (b.ratings.size() < o.batch_size) {
      b.ratings.push_back(events[at]);
      at = (at + 1) % events.size();
    }
    from_file.fetch_add(b.ratings.size());
    return b;
  });
  auto g = make_streaming_graph(link.wrap(looped), params, 2, train.scale);
  g.evaluation = evaluation_options{validation, std::max<std::size_t>(o.eval_every, 1)};
  g.on_model = [&](std::uint64_t batch, factor_model&& m) { link.on_model(batch, std::move(m)); };
  g.publish_interval = o.publish_interval;
  auto engine = local_engine::make(std::move(g), {.workers = o.workers, .history_limit = 1000,
                                                   .priority = o.training_priority});
  if (!engine)
    return engine.err();

  std::mutex fail_mutex;
  auto failed = [&](const std::string& what) {
    std::lock_guard lock(fail_mutex);
    if (out.first_failure.empty())
      out.first_failure = what;
  };
  std::atomic<std::uint64_t> batches{0}, ratings{0};
  std::optional<error> engine_error;  ///< set by the trainer thread before engine_failed
  std::atomic<bool> engine_failed{false}, engine_done{false};
  std::mutex rmse_mutex;
  auto start = clock::now();
  std::thread trainer([&] {
    lower_thread_priority(o.training_priority);  // the driving thread, like the actor threads
    auto sum = (*engine)->run([&](const batch_metrics& m) {
      batches.fetch_add(1);
      ratings.fetch_add(m.ratings);
      if (m.rmse) {
        std::lock_guard lock(rmse_mutex);
        out.last_rmse = m.rmse;
      }
    });
    if (!sum) {
      engine_error = sum.err();
      engine_failed = true;
    }
    engine_done = true;
  });
  // Queries start once every training item is in a published model (one pass over the file).
  auto per_pass = (events.size() + o.batch_size - 1) / o.batch_size;
  while (svc.snapshot()->version < per_pass && !engine_done.load()
         && std::chrono::duration<double>(clock::now() - start).count() < o.seconds)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  std::atomic<bool> stop_load{false};
  std::atomic<std::uint64_t> queries{0}, query_failures{0}, posts{0}, post_failures{0}, posted{0};
  auto paced = [&](double rate, std::size_t index, std::size_t of, auto&& one) {
    auto interval = std::chrono::duration<double>(double(of) / rate);
    auto next = clock::now() + std::chrono::duration_cast<clock::duration>(interval * (double(index) / double(of)));
    while (!stop_load.load()) {
      std::this_thread::sleep_until(next);
      next += std::chrono::duration_cast<clock::duration>(interval);
      one();
    }
  };
  std::vector<std::thread> load;
  for (std::size_t c = 0; c < o.connections && o.query_rate > 0; ++c)
    load.emplace_back([&, c] {
      client http(port);
      std::mt19937_64 rng(1000 + c);
      std::uint64_t k = 0;
      paced(o.query_rate, c, o.connections, [&] {
        auto user = user_ids[rng() % user_ids.size()];
        auto item = item_ids[rng() % item_ids.size()];
        std::string target;
        switch (k++ % 10) {
          case 0: case 1: case 2: case 3: target = "/recommend?user=" + std::to_string(user) + "&n=10"; break;
          case 4: case 5: case 6: target = "/predict?user=" + std::to_string(user) + "&item=" + std::to_string(item); break;
          case 7: target = "/similar?item=" + std::to_string(item) + "&n=10"; break;
          case 8: target = "/recommend?user=" + std::to_string(1'000'000'000'000 + std::int64_t(rng() % o.new_users)) + "&n=10"; break;
          default: target = k % 20 == 9 ? "/health" : "/model"; break;
        }
        std::string err;
        auto status = http.send(boost::beast::http::verb::get, target, "", err);
        queries.fetch_add(1);
        if (status != 200) {
          query_failures.fetch_add(1);
          failed(err);
        }
      });
    });
  if (o.post_rate > 0)
    load.emplace_back([&] {
      client http(port);
      std::mt19937_64 rng(77);
      paced(o.post_rate, 0, 1, [&] {
        auto user = rng() % 2 ? user_ids[rng() % user_ids.size()]
                              : 1'000'000'000'000 + std::int64_t(rng() % o.new_users);
        auto n = 1 + rng() % 5;
        std::string body = "{\"user\": " + std::to_string(user) + ", \"ratings\": [";
        for (std::size_t r = 0; r < n; ++r) {
          double value = train.scale.min + double(rng() % 9) * 0.5;
          body += (r ? ", " : "") + std::string("{\"item\": ") + std::to_string(item_ids[rng() % item_ids.size()])
                  + ", \"rating\": " + std::to_string(std::min(value, train.scale.max)) + "}";
        }
        body += "]}";
        std::string err;
        auto status = http.send(boost::beast::http::verb::post, "/ratings", body, err);
        posts.fetch_add(1);
        if (status == 202) {
          posted.fetch_add(n);
        } else {
          post_failures.fetch_add(1);
          failed(err.empty() ? "/ratings -> " + std::to_string(status) : err);
        }
      });
    });

  std::vector<double> samples;  // after the warm-up
  auto next_note = start + std::chrono::seconds(10);
  for (;;) {
    auto now = clock::now();
    double t = std::chrono::duration<double>(now - start).count();
    if (t >= o.seconds || engine_done.load())
      break;
    double mb = rss_mb();
    if (t >= o.warmup_seconds)
      samples.push_back(mb);
    if (progress && now >= next_note) {
      next_note += std::chrono::seconds(10);
      progress("soak " + std::to_string(int(t)) + " s: " + std::to_string(batches.load()) + " batches, "
               + std::to_string(queries.load()) + " queries, " + std::to_string(posts.load())
               + " posts, failures " + std::to_string(query_failures.load() + post_failures.load())
               + ", rss " + std::to_string(int(mb)) + " MB");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  samples.push_back(rss_mb());
  auto window = std::clamp<std::size_t>(samples.size() / 10, 4, 40);
  auto median = [&](std::size_t from) {
    std::vector<double> w(samples.begin() + std::ptrdiff_t(from),
                          samples.begin() + std::ptrdiff_t(std::min(from + window, samples.size())));
    std::nth_element(w.begin(), w.begin() + std::ptrdiff_t(w.size() / 2), w.end());
    return w[w.size() / 2];
  };
  out.rss_start_mb = median(0);
  out.rss_end_mb = median(samples.size() - std::min(window, samples.size()));
  out.rss_peak_mb = *std::max_element(samples.begin(), samples.end());
  stop_load = true;
  for (auto& t : load)
    t.join();
  time_up = true;
  link.request_stop();
  trainer.join();
  out.seconds = std::chrono::duration<double>(clock::now() - start).count();
  link.flush();
  (*server)->stop();
  if (engine_error)
    return *engine_error;
  out.batches = batches.load();
  out.ratings_streamed = ratings.load();
  out.passes_over_data = double(from_file.load()) / double(events.size());
  out.queries = queries.load();
  out.query_failures = query_failures.load();
  out.posts = posts.load();
  out.post_failures = post_failures.load();
  out.ratings_posted = posted.load();
  out.versions_published = svc.snapshot()->version;
  return out;
}

}  // namespace recflow::soak
