/// Process figures the benchmarks report.
#pragma once

#include <sys/resource.h>

namespace recflow::bench {

/// Peak resident set size of this process, in MiB.
inline double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace recflow::bench
