#include "sources/socket_source.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

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

namespace {

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
      auto line = std::move(lines_.front());
      lines_.pop_front();
      cv_.notify_all();
      ++line_no_;
      if (line.empty() || line == "\r")
        continue;
      if (auto ev = parse_rating_text(line, o_.scale)) {
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
      asio::connect(*socket_, endpoints);
    } catch (const std::exception& e) {
      socket_.reset();
      return error{errc::io, name_ + ": cannot connect: " + e.what()};
    }
    reader_ = std::thread([this] { read_loop(); });
    return {};
  }

  void read_loop() {
    asio::streambuf buf;
    boost::system::error_code ec;
    for (;;) {
      {  // backpressure: a slow graph stops the reading, and TCP stops the peer
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return lines_.size() < max_queued || stop_; });
      }
      asio::read_until(*socket_, buf, '\n', ec);
      std::deque<std::string> got;
      // Every complete line in the buffer; a last line without '\n' only at EOF.
      while (buf.size() > 0) {
        auto data = static_cast<const char*>(buf.data().data());
        std::string_view view(data, buf.size());
        auto nl = view.find('\n');
        if (nl == std::string_view::npos) {
          if (!ec)
            break;
          got.emplace_back(view);
          buf.consume(view.size());
          break;
        }
        got.emplace_back(view.substr(0, nl));
        buf.consume(nl + 1);
      }
      std::lock_guard lock(m_);
      for (auto& l : got)
        lines_.push_back(std::move(l));
      if (ec || stop_) {
        closed_ = true;
        if (ec && ec != asio::error::eof && !stop_)
          read_error_ = ec.message();
      }
      cv_.notify_all();
      if (closed_)
        return;
    }
  }

  static constexpr std::size_t max_queued = 100'000;
  socket_source_options o_;
  std::string name_;
  asio::io_context io_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool closed_ = false;
  bool stop_ = false;
  std::optional<std::string> read_error_;
  std::uint64_t line_no_ = 0;
};

}  // namespace

std::shared_ptr<rating_source> socket_source(socket_source_options o) {
  return std::make_shared<tcp_line_source>(std::move(o));
}

}  // namespace recflow
