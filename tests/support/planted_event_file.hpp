// A planted event file the implicit CLI tests share: 3 groups of 12 users; group g has
// events on items 10g .. 10g+7 (weight 1 or 2; the latest is a different item for
// different users); no item crosses groups, so the held-out item is easy to rank.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace recflow::test {

/// Writes the file into `dir` and returns its path.
inline std::string write_planted_events(const std::filesystem::path& dir) {
  auto path = (dir / "events.tsv").string();
  std::ofstream out(path);
  for (int g = 0; g < 3; ++g)
    for (int u = 0; u < 12; ++u)
      for (int i = 0; i < 8; ++i)
        if ((u + i) % 5 != 0)
          out << g * 100 + u << '\t' << g * 10 + i << '\t' << 1 + (u + i) % 2 << '\t'
              << 1000 + (u + i) % 8 << '\n';
  return path;
}

}  // namespace recflow::test
