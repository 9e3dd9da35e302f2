#include "recflow/sources/socket_source.hpp"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

namespace recflow {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

result<host_port> parse_tcp_url(std::string_view url) {
  constexpr std::string_view scheme = "tcp://";
  if (!url.starts_with(scheme))
    return error{errc::invalid_argument, "a socket source is tcp://HOST:PORT, got '"
                                           + std::string(url) + "'"};
  return parse_host_port(url.substr(scheme.size()));
}

result<void> validate(const socket_source_options& o) {
  if (o.max_line == 0)
    return error{errc::invalid_argument, "the maximum line length must be positive, got 0"};
  if (o.connect_timeout.count() <= 0)
    return error{errc::invalid_argument, "the connect timeout must be positive, got "
                                           + std::to_string(o.connect_timeout.count()) + " ms"};
  if (o.read_timeout.count() < 0)
    return error{errc::invalid_argument, "the read timeout must be >= 0, got "
                                           + std::to_string(o.read_timeout.count()) + " ms"};
  return {};
}

namespace {

/// A line as read: its text, or (too_long) only the fact that it passed max_line.
struct read_line {
  std::string text;
  bool too_long = false;
};

/// A reader thread fills a queue of lines; next() takes them with a deadline, so a
/// batch can end on time while the socket is quiet.
class tcp_line_source final : public rating_source {
 public:
  explicit tcp_line_source(socket_source_options o) : o_(std::move(o)) {
    if (!o_.dead)
      o_.dead = std::make_shared<dead_letters>();
  }
  ~tcp_line_source() override {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (socket_) {
      boost::system::error_code ec;
      socket_->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      socket_->close(ec);
    }
    if (reader_.joinable())
      reader_.join();
  }

  result<std::optional<rating_batch>> next() override {
    if (o_.max_ratings == 0 && o_.interval.count() <= 0)
      return error{errc::invalid_argument, "a socket batch needs a size or an interval, got neither"};
    if (auto ok = validate(o_); !ok)
      return ok.err();
    if (!socket_)
      if (auto ok = open(); !ok)
        return ok.err();
    rating_batch b;
    std::optional<clock::time_point> batch_end;
    std::unique_lock lock(m_);
    for (;;) {
      if (o_.max_ratings > 0 && b.size() >= o_.max_ratings)
        break;
      if (lines_.empty()) {
        if (closed_)
          break;
        if (batch_end) {
          if (!cv_.wait_until(lock, *batch_end, [&] { return !lines_.empty() || closed_; }))
            break;
        } else {
          cv_.wait(lock, [&] { return !lines_.empty() || closed_; });
        }
        continue;
      }
      auto got = std::move(lines_.front());
      lines_.pop_front();
      queued_bytes_ -= got.text.size();
      cv_.notify_all();
      ++line_no_;
      if (got.too_long) {
        o_.dead->add(name_ + " line " + std::to_string(line_no_) + ": longer than "
                     + std::to_string(o_.max_line) + " bytes");
        continue;
      }
      const auto& line = got.text;
      if (line.empty() || line == "\r")
        continue;
      if (auto ev = parse_rating_text(line, o_.scale, o_.kind)) {
        b.ratings.push_back(*ev);
        if (!batch_end && o_.interval.count() > 0)
          batch_end = clock::now() + o_.interval;
      } else {
        o_.dead->add(name_ + " line " + std::to_string(line_no_) + ": " + ev.err().message);
      }
    }
    if (b.empty()) {
      if (read_error_)
        return error{errc::io, name_ + ": " + *read_error_};
      return std::optional<rating_batch>{};
    }
    b.position = "line:" + std::to_string(line_no_);
    return std::optional<rating_batch>{std::move(b)};
  }

 private:
  result<void> open() {
    name_ = "tcp://" + o_.peer.host + ":" + std::to_string(o_.peer.port);
    try {
      asio::ip::tcp::resolver resolver(io_);
      auto endpoints = resolver.resolve(o_.peer.host, std::to_string(o_.peer.port));
      socket_.emplace(io_);
      // Connect within connect_timeout: a peer that never answers (a dropped SYN, a full
      // accept queue) fails the source instead of holding it for minutes.
      boost::system::error_code ec = asio::error::would_block;
      asio::async_connect(*socket_, endpoints,
                          [&ec](const boost::system::error_code& e, const auto&) { ec = e; });
      io_.restart();
      io_.run_for(o_.connect_timeout);
      if (ec == asio::error::would_block) {
        boost::system::error_code ignored;
        socket_->close(ignored);
        io_.restart();
        io_.run();  // the cancelled connect's handler
        socket_.reset();
        return error{errc::io, name_ + ": cannot connect: no answer within "
                                 + std::to_string(o_.connect_timeout.count()) + " ms (connect timeout)"};
      }
      if (ec)
        throw boost::system::system_error(ec);
    } catch (const std::exception& e) {
      socket_.reset();
      return error{errc::io, name_ + ": cannot connect: " + e.what()};
    }
    reader_ = std::thread([this] { read_loop(); });
    return {};
  }

  /// Waits until the socket has data (or the read timeout passes: false).
  bool wait_readable() {
    if (o_.read_timeout.count() <= 0)
      return true;
    pollfd p{socket_->native_handle(), POLLIN, 0};
    int rc = 0;
    do
      rc = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(o_.read_timeout.count(), 1 << 30)));
    while (rc < 0 && errno == EINTR);
    return rc != 0;  // an error or a hang-up: the read reports it
  }

  void read_loop() {
    std::vector<char> chunk(16 * 1024);
    std::string partial;    // the line being read, at most max_line bytes
    bool too_long = false;  // it passed max_line: its bytes are dropped until its newline
    boost::system::error_code ec;
    for (;;) {
      {  // backpressure: a slow graph stops the reading, and TCP stops the peer
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] {
          return (lines_.size() < max_queued && queued_bytes_ < max_queued_bytes) || stop_;
        });
      }
      std::optional<std::string> timed_out;
      std::size_t n = 0;
      if (!wait_readable())
        timed_out = "no data for " + std::to_string(o_.read_timeout.count()) + " ms (read timeout)";
      else
        n = socket_->read_some(asio::buffer(chunk), ec);
      std::deque<read_line> got;
      std::string_view data(chunk.data(), n);
      while (!data.empty()) {
        auto nl = data.find('\n');
        auto piece = data.substr(0, nl);
        if (!too_long && partial.size() + piece.size() > o_.max_line) {
          too_long = true;
          std::string().swap(partial);
        }
        if (!too_long)
          partial.append(piece);
        if (nl == std::string_view::npos)
          break;
        got.push_back({std::move(partial), too_long});
        partial.clear();
        too_long = false;
        data.remove_prefix(nl + 1);
      }
      if ((ec || timed_out) && (!partial.empty() || too_long))  // a last line without '\n'
        got.push_back({std::move(partial), too_long});
      std::lock_guard lock(m_);
      for (auto& l : got) {
        queued_bytes_ += l.text.size();
        lines_.push_back(std::move(l));
      }
      if (ec || timed_out || stop_) {
        closed_ = true;
        if (timed_out && !stop_)
          read_error_ = *timed_out;
        else if (ec && ec != asio::error::eof && !stop_)
          read_error_ = ec.message();
      }
      cv_.notify_all();
      if (closed_)
        return;
    }
  }

  static constexpr std::size_t max_queued = 100'000;          ///< lines read ahead at most...
  static constexpr std::size_t max_queued_bytes = 16 << 20;   ///< ...and bytes
  std::size_t queued_bytes_ = 0;
  socket_source_options o_;
  std::string name_;
  asio::io_context io_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<read_line> lines_;
  bool closed_ = false;
  bool stop_ = false;
  std::optional<std::string> read_error_;
  std::uint64_t line_no_ = 0;
};

}  // namespace

result<std::uint64_t> serve_ratings_tcp(const host_port& at, std::span<const rating_event> events,
                                        double rate, const std::function<void(int)>& on_listening) {
  if (!(rate >= 0.0))
    return error{errc::invalid_argument, "rate must be >= 0 ratings/s"};
  std::string name = "tcp " + at.host + ":" + std::to_string(at.port);
  try {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address(at.host), static_cast<unsigned short>(at.port)));
    if (on_listening)
      on_listening(acceptor.local_endpoint().port());
    auto peer = acceptor.accept();
    auto start = clock::now();
    std::string chunk;
    std::size_t at_event = 0;
    const std::size_t step = rate > 0 ? std::max<std::size_t>(1, std::size_t(rate / 20)) : 4096;
    while (at_event < events.size()) {
      if (rate > 0)
        std::this_thread::sleep_until(start + std::chrono::duration_cast<clock::duration>(
                                                std::chrono::duration<double>(double(at_event) / rate)));
      chunk.clear();
      auto end = std::min(events.size(), at_event + step);
      for (; at_event < end; ++at_event) {
        const auto& e = events[at_event];
        char v[32];
        auto [p, ec] = std::to_chars(v, v + sizeof v, e.value);
        (void)ec;
        chunk += std::to_string(e.user) + ',' + std::to_string(e.item) + ','
                 + std::string(v, p) + ',' + std::to_string(e.timestamp) + '\n';
      }
      asio::write(peer, asio::buffer(chunk));
    }
    peer.shutdown(asio::ip::tcp::socket::shutdown_send);
    return std::uint64_t(events.size());
  } catch (const std::exception& e) {
    return error{errc::io, name + ": " + e.what()};
  }
}

std::shared_ptr<rating_source> socket_source(socket_source_options o) {
  return std::make_shared<tcp_line_source>(std::move(o));
}

}  // namespace recflow
