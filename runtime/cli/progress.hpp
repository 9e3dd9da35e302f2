/// Progress of long work on stderr: one line redrawn in place with rate and ETA when stderr
/// is a terminal, plain lines every few seconds when it is not (logs, CI, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace recflow::cli {

/// "0.4 s", "12 s", "3 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

/// One progress line: "streaming: 40/81 batches (49%)  12.3 batches/s  ETA 3.3 s  rmse 0.8712".
/// The rate is done / elapsed and the ETA (total - done) / rate; both are left out until
/// something is done.
std::string progress_line(const std::string& label, std::uint64_t done, std::uint64_t total,
                          const std::string& unit, double elapsed, const std::string& note = {});

/// Reports progress of `total` units of work on stderr.
///
/// On a terminal the line is redrawn at most 10 times a second and ended by finish(). Off a
/// terminal a plain line is printed when `plain_interval` seconds have passed since the
/// last one (default 5 s, or $RECFLOW_PROGRESS_INTERVAL), so a short run prints only its
/// finish() line. A disabled progress prints nothing.
class progress {
 public:
  progress(std::string label, std::uint64_t total, std::string unit, bool enabled = true);
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;
  /// Ends an unfinished line.
  ~progress();

  /// `done` units of the total are finished; `note` is shown after the ETA.
  void update(std::uint64_t done, const std::string& note = {});
  /// Prints the final line ("... done in 2.1 s") once.
  void finish(const std::string& note = {});

 private:
  using clock = std::chrono::steady_clock;
  double elapsed() const;

  std::string label_, unit_;
  std::uint64_t total_ = 0, done_ = 0;
  bool enabled_ = true, tty_ = false, finished_ = false, drawn_ = false;
  double plain_interval_ = 5.0;
  clock::time_point start_, last_;
};

}  // namespace recflow::cli
