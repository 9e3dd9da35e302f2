/// Helpers shared by the ingest tests: temp files, table rows by external id, parsing.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "recflow/data/ingest.hpp"
#include "recflow/data/rating_reader.hpp"

namespace recflow::ingest_test {

/// A file in the temp dir holding `content`, removed when the object goes.
struct temp_file {
  std::string path;
  explicit temp_file(std::string_view content, std::string_view suffix = ".txt") {
    static int counter = 0;  // one per test executable: names stay unique
    path = (std::filesystem::temp_directory_path()
            / ("recflow_ingest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)
               + std::string(suffix)))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() { std::remove(path.c_str()); }
};

/// A rating with its external ids, for comparing tables.
struct row {
  std::int64_t user, item;
  float value;
  std::int64_t timestamp;
  bool operator==(const row&) const = default;
};

inline std::vector<row> rows(const rating_table& t, const std::vector<rating>& rs) {
  std::vector<row> out;
  for (auto& r : rs)
    out.push_back({t.users.external(r.user), t.items.external(r.item), r.value, r.timestamp});
  return out;
}
inline std::vector<row> rows(const rating_table& t) { return rows(t, t.ratings); }

inline rating_table parse_ok(std::string_view text, const ingest_options& opts = {},
                      ingest_report* report = nullptr) {
  rating_table t;
  auto r = parse_ratings_into(text, "mem", opts, t);
  INFO((r ? "" : r.err().message));
  REQUIRE(r);
  if (report) *report = *r;
  return t;
}

/// Reads a whole file through rating_reader in batches of `max`.
inline rating_table read_chunked(const std::string& path, const ingest_options& opts, std::size_t max,
                          std::size_t block, ingest_report* report = nullptr) {
  auto reader = rating_reader::open(path, opts, block);
  INFO((reader ? "" : reader.err().message));
  REQUIRE(reader);
  rating_table t;
  for (;;) {
    auto n = reader->next(max, t, t.ratings);
    INFO((n ? "" : n.err().message));
    REQUIRE(n);
    REQUIRE(*n <= max);
    if (*n == 0) break;
  }
  CHECK(reader->done());
  if (report) *report = reader->report();
  return t;
}

inline ingest_options with_format(input_format f) {
  ingest_options o;
  o.format = f;
  return o;
}

}  // namespace recflow::ingest_test
