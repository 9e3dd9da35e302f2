/// The data the streaming benchmarks train and validate on.
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "recflow/data/ingest.hpp"
#include "recflow/model/split.hpp"

namespace recflow::bench {

/// `relative` under $RECFLOW_DATA, or under ../shared/data (where it is from the build folder).
inline std::string data_file(const std::string& relative) {
  const char* root = std::getenv("RECFLOW_DATA");
  return std::string(root && *root ? root : "../shared/data") + "/" + relative;
}

/// A rating file split 80/20 (seed 42), as `recflow stream --data` splits it by default.
struct split_data {
  std::shared_ptr<const rating_table> train, validation;
};

/// `path` read and split; nothing (and the reader's message on stderr) if it cannot be read.
inline std::optional<split_data> read_split(const std::string& path) {
  auto table = read_ratings(path);
  if (!table) {
    fmt::print(stderr, "{}\n", table.err().message);
    return std::nullopt;
  }
  auto sp = random_split(table->ratings, 0.8, 42);
  return split_data{std::make_shared<const rating_table>(table->with_ratings(std::move(sp.train))),
                    std::make_shared<const rating_table>(table->with_ratings(std::move(sp.test)))};
}

}  // namespace recflow::bench
