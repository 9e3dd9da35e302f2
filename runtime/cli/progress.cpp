#include "cli/progress.hpp"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

namespace recflow::cli {

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0))
    return "?";
  if (seconds < 10.0)
    return fmt::format("{:.1f} s", seconds);
  auto s = static_cast<std::uint64_t>(seconds + 0.5);
  if (s < 60)
    return fmt::format("{} s", s);
  if (s < 3600)
    return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
}

std::string progress_line(const std::string& label, std::uint64_t done, std::uint64_t total,
                          const std::string& unit, double elapsed, const std::string& note) {
  std::string s = fmt::format("{}: {}/{} {}", label, done, total, unit);
  if (total > 0)
    s += fmt::format(" ({}%)", done * 100 / total);
  if (done > 0 && elapsed > 0.0) {
    const double rate = static_cast<double>(done) / elapsed;
    s += fmt::format("  {:.3g} {}/s", rate, unit);
    if (total > done)
      s += "  ETA " + format_duration(static_cast<double>(total - done) / rate);
  }
  if (!note.empty())
    s += "  " + note;
  return s;
}

progress::progress(std::string label, std::uint64_t total, std::string unit, bool enabled)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1), start_(clock::now()), last_(start_) {
  if (const char* e = std::getenv("RECFLOW_PROGRESS_INTERVAL"); e && *e) {
    char* end = nullptr;
    double v = std::strtod(e, &end);
    if (end != e && v >= 0.0)
      plain_interval_ = v;
  }
}

progress::~progress() {
  if (enabled_ && tty_ && drawn_ && !finished_)
    std::fputs("\n", stderr);
}

double progress::elapsed() const {
  return std::chrono::duration<double>(clock::now() - start_).count();
}

void progress::update(std::uint64_t done, const std::string& note) {
  done_ = done;
  if (!enabled_ || finished_)
    return;
  const auto now = clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (tty_ ? since < 0.1 && drawn_ : since < plain_interval_)
    return;
  last_ = now;
  auto line = progress_line(label_, done_, total_, unit_, elapsed(), note);
  if (tty_)
    std::fprintf(stderr, "\r%s\x1b[K", line.c_str());  // redraw, clear the rest
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress::finish(const std::string& note) {
  if (!enabled_ || finished_)
    return;
  finished_ = true;
  auto line = fmt::format("{}: {}/{} {} done in {}", label_, done_, total_, unit_,
                          format_duration(elapsed()));
  if (!note.empty())
    line += "  " + note;
  std::fprintf(stderr, tty_ ? "\r%s\x1b[K\n" : "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace recflow::cli
